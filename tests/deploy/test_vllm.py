"""``tuneloop deploy vllm``: immutable exports, the vllm serve command sized from the adapters, the
alias map, atomic replacement of a previous deployment, and refusals."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from evalhelpers import register_version

from tuneloop.deploy.vllm import adapter_rank, deploy_vllm, max_lora_rank
from tuneloop.errors import InvalidInput, NotFound
from tuneloop.project import Project
from tuneloop.registry import register_model_version, set_alias


@pytest.fixture(scope="module")
def adapters(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> dict[int, Path]:
    """Two real PEFT adapters of the tiny model: rank 4, and rank 4 with one module at rank 20."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    made = {}
    for rank, pattern in ((4, {}), (4, {"v_proj": 20})):
        base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
        config = LoraConfig(r=rank, rank_pattern=pattern, target_modules=["q_proj", "v_proj"])
        directory = tmp_path_factory.mktemp("adapter") / "adapter"
        get_peft_model(base, config).save_pretrained(str(directory))
        made[max([rank, *pattern.values()])] = directory
    return made


def register_adapter(project: Project, adapter: Path, base: Path) -> str:
    return register_model_version(
        project, name="proj", kind="adapter", artifact_dir=adapter,
        base_reference=str(base), base_weights_sha256="0" * 64,
    ).reference  # fmt: skip


@pytest.fixture
def registered(project_dir: Path, adapters: dict[int, Path], tiny_model_dir: Path) -> Project:
    """proj:1 (rank 4) at production, moved there from proj:2 (rank 20, at staging); proj:3 (full
    weights) at canary; proj:4 registered but behind no alias."""
    project = Project.open()
    assert register_adapter(project, adapters[4], tiny_model_dir) == "proj:1"
    assert register_adapter(project, adapters[20], tiny_model_dir) == "proj:2"
    assert register_version(project, tiny_model_dir, tiny_model_dir).reference == "proj:3"
    assert register_adapter(project, adapters[4], tiny_model_dir) == "proj:4"
    set_alias(project, "proj:2", "production")
    set_alias(project, "proj:1", "production")
    set_alias(project, "proj:2", "staging")
    set_alias(project, "proj:3", "canary")
    return project


def test_exports_every_alias_under_immutable_names(registered: Project, tmp_path: Path) -> None:
    out = tmp_path / "fleet"
    deployment = deploy_vllm(registered, "proj@production", out)
    assert deployment.aliases == {"canary": "proj-v3", "production": "proj-v1", "staging": "proj-v2"}
    assert [v.served_name for v in deployment.versions] == ["proj-v1", "proj-v2", "proj-v3"]
    for served in ("proj-v1", "proj-v2"):
        files = sorted(p.name for p in (out / "adapters" / served).iterdir())
        assert files == ["adapter_config.json", "adapter_model.safetensors"]
    assert (out / "models" / "proj-v3" / "config.json").is_file()
    assert list((out / "models" / "proj-v3").glob("*.safetensors"))
    assert not (out / "adapters" / "proj-v4").exists()

    aliases = json.loads((out / "aliases.json").read_text())
    assert aliases["format"] == "tuneloop-vllm-deployment"
    assert aliases["aliases"]["production"]["model"] == "proj-v1"
    assert aliases["aliases"]["production"]["reference"] == "proj:1"
    assert aliases["aliases"]["canary"]["kind"] == "full"
    assert not list(tmp_path.glob(".fleet.*"))


def test_serve_script_sizes_lora_from_the_adapters(
    registered: Project, tmp_path: Path, tiny_model_dir: Path
) -> None:
    out = tmp_path / "fleet"
    deployment = deploy_vllm(registered, "proj@production", out)
    main = deployment.servers[0]
    assert main.script == "serve.sh" and main.adapters == ("proj-v1", "proj-v2")
    assert (main.max_lora_rank, main.max_loras) == (32, 2)
    script = (out / "serve.sh").read_text()
    assert 'vllm serve "$BASE_MODEL"' in script and "--enable-lora" in script
    assert '--lora-modules proj-v1="$HERE/adapters/proj-v1" proj-v2="$HERE/adapters/proj-v2"' in script
    assert "--max-lora-rank 32 --max-loras 2" in script
    assert f"DEFAULT_BASE_MODEL={tiny_model_dir.resolve()}" in script
    full = (out / "serve-2.sh").read_text()
    assert 'vllm serve "$HERE/models/proj-v3" --served-model-name proj-v3' in full
    assert '"${PORT:-8001}"' in full
    for name in ("serve.sh", "serve-2.sh"):
        assert (out / name).stat().st_mode & 0o111
        assert subprocess.run(["bash", "-n", str(out / name)], check=False).returncode == 0
    readme = (out / "README.md").read_text()
    assert "tuneloop serve --upstream http://GPU-HOST:8000" in readme
    assert "Full-weight versions" in readme and "serve-2.sh" in readme


def test_the_requested_alias_decides_the_main_script(registered: Project, tmp_path: Path) -> None:
    deployment = deploy_vllm(registered, "proj@canary", tmp_path / "fleet")
    assert deployment.servers[0].served_name == "proj-v3"
    assert deployment.servers[1].adapters == ("proj-v1", "proj-v2")


def test_a_previous_deployment_is_replaced(registered: Project, tmp_path: Path) -> None:
    out = tmp_path / "deploys" / "fleet"
    first = deploy_vllm(registered, "proj@production", out)
    assert not first.replaced
    set_alias(registered, "proj:4", "staging")
    set_alias(registered, "proj:4", "canary")  # proj:3 stays exported as canary's rollback target
    second = deploy_vllm(registered, "proj@production", out)
    assert second.replaced
    assert second.aliases == {"canary": "proj-v4", "production": "proj-v1", "staging": "proj-v4"}
    assert sorted(p.name for p in (out / "adapters").iterdir()) == ["proj-v1", "proj-v2", "proj-v4"]
    assert [v.aliases for v in second.versions if v.served_name == "proj-v3"] == [()]
    assert json.loads((out / "aliases.json").read_text())["aliases"]["staging"]["model"] == "proj-v4"
    assert sorted(p.name for p in out.parent.iterdir()) == ["fleet"]  # no staging or old copy left


def test_refuses_a_directory_that_is_not_a_deployment(registered: Project, tmp_path: Path) -> None:
    out = tmp_path / "busy"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(InvalidInput) as raised:
        deploy_vllm(registered, "proj@production", out)
    assert raised.value.code == "out_dir_not_empty"
    assert (out / "notes.txt").read_text() == "mine"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert deploy_vllm(registered, "proj@production", empty).out_dir == empty.resolve()


def test_refuses_references_that_are_not_existing_aliases(registered: Project, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as raised:
        deploy_vllm(registered, "proj:1", tmp_path / "a")
    assert raised.value.code == "not_an_alias"
    with pytest.raises(NotFound):
        deploy_vllm(registered, "proj@nowhere", tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.mark.parametrize(
    ("ranks", "expected"), [([4], 8), ([8, 2], 8), ([9], 16), ([20, 64], 64), ([256], 256)]
)
def test_max_lora_rank_rounds_up_to_a_value_vllm_accepts(ranks: list[int], expected: int) -> None:
    assert max_lora_rank(ranks) == expected


def test_ranks_beyond_vllm_are_refused() -> None:
    with pytest.raises(InvalidInput):
        max_lora_rank([257])
    assert adapter_rank({"r": 8, "rank_pattern": {"q_proj": 48}}) == 48
    assert adapter_rank({"r": 16}) == 16


def test_cli_json_and_exit_codes(registered: Project, tmp_path: Path, cli) -> None:
    result = cli("deploy", "vllm", "proj@production", "-o", str(tmp_path / "fleet"), "--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["ok"] and document["aliases"]["production"] == "proj-v1"
    assert document["servers"][0]["max_lora_rank"] == 32
    refused = cli("deploy", "vllm", "proj:1", "-o", str(tmp_path / "other"))
    assert refused.exit_code == 2 and "NAME@alias" in refused.stderr
    shown = cli("deploy", "vllm", "proj@production", "-o", str(tmp_path / "fleet"))
    assert shown.exit_code == 0 and "replaced" in shown.stdout and "proj-v2" in shown.stdout


def test_a_catalog_base_is_served_from_the_hub_under_the_name_the_router_sends(
    project_dir: Path, adapters: dict[int, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tuneloop.models import ResolvedModel
    from tuneloop.serve.backend import Target
    from tuneloop.serve.upstream import upstream_model_name

    project = Project.open()
    info = register_model_version(
        project, name="support", kind="adapter", artifact_dir=adapters[4],
        base_reference="base:smollm2-135m-instruct", base_weights_sha256="1" * 64,
    )  # fmt: skip
    set_alias(project, info.reference, "production")
    artifact = project.artifacts.tree_path(info.artifact_sha256)

    def resolve_without_pulling(reference: str, project: Project, **_: object) -> ResolvedModel:
        return ResolvedModel(reference, Path("/nowhere"), "1" * 64, adapter_path=artifact)

    monkeypatch.setattr("tuneloop.deploy.vllm.resolve_model", resolve_without_pulling)
    deployment = deploy_vllm(project, "support@production", tmp_path / "fleet")
    script = (tmp_path / "fleet" / "serve.sh").read_text()
    assert "DEFAULT_BASE_MODEL=HuggingFaceTB/SmolLM2-135M-Instruct" in script
    assert "--served-model-name smollm2-135m-instruct" in script
    assert "--max-lora-rank 8 --max-loras 1" in script
    base = Target(
        requested="base:smollm2-135m-instruct", reference="base:smollm2-135m-instruct",
        name="base:smollm2-135m-instruct", version=None, version_id=None, base_path=Path("/nowhere"),
        base_weights_sha256="1" * 64, adapter_path=None, merged_weights=False, identity="x",
    )  # fmt: skip
    assert upstream_model_name(base, "vllm") == deployment.servers[0].served_name
    adapter = Target(**{**base.__dict__, "reference": "support:1", "name": "support", "version": 1})
    assert upstream_model_name(adapter, "vllm") == deployment.servers[0].adapters[0]
