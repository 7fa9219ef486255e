"""Monitoring: drift of production traffic against the training data, online quality, retraining."""
