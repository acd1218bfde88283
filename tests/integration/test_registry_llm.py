"""LLM extractors in the registry: the configured one is registered (model, prompt and
schema versions, server name, never the key) and served; an `ft:` version for another
server is refused before it becomes active; one for this server is served, over real
HTTP against the local OpenAI-compatible server, under its own model id."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agents.errors import Unservable
from autoclerk.registry import open_registry, server_name
from autoclerk.served import build_extractor_version
from infra.db.engine import make_async_engine
from infra.settings import Settings
from schemas.document import Document
from tests.llm_server import Reply, ScriptedLlmServer

RECEIPT = Document.from_text(
    document_id="r-1", kind="invoice", text="ACME SDN BHD\nDATE: 02/03/2024\nTOTAL 12.50"
)


def test_server_name_keeps_no_credentials() -> None:
    assert server_name("https://user:sk-secret@api.example.com:8443/v1/?key=x") == "api.example.com:8443/v1"
    assert server_name(None) is None


async def test_llm_versions_are_registered_refused_or_served(trained_models: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    shutil.copytree(trained_models, models, ignore=shutil.ignore_patterns("registry"))
    reply = Reply(fields={"vendor_name": "ACME SDN BHD", "issue_date": "2024-03-02", "total": "12.50"})
    with ScriptedLlmServer(default=reply) as server:
        settings = Settings(
            db={"url": f"sqlite:///{tmp_path / 'a.db'}"},
            models={"dir": models},
            llm={"base_url": server.url, "model": "gpt-4o-mini", "api_key": "sk-test-not-recorded"},
        )
        registry = open_registry(settings)
        try:
            llm = registry.get("extractor@champion")
            assert llm.ref == "extractor/2" and llm.flavour == "llm" and llm.status == "active"
            assert llm.params["model"] == "gpt-4o-mini" and llm.params["server"] == server_name(server.url)
            assert llm.params["prompt_version"] and llm.params["schema_version"]
            assert "sk-test" not in json.dumps([llm.params, llm.lineage])
            assert registry.get("extractor/1").status == "retired"  # the local one it replaced
            open_registry(settings).close()
            assert len(registry.versions("extractor")) == 2  # the same settings register nothing new

            foreign = registry.register(
                name="extractor",
                params={**llm.params, "model": "ft:gpt-4o-mini:org::abc", "server": "elsewhere:443/v1"},
                lineage={"parent": llm.ref, "finetune_job": "ftjob-1"},
                metrics={},
            )
            with pytest.raises(Unservable, match="made for server elsewhere"):
                registry.promote(foreign.ref)
            tuned = registry.register(
                name="extractor",
                params={**llm.params, "model": "ft:gpt-4o-mini:org::abc"},
                lineage={"parent": llm.ref, "finetune_job": "ftjob-1"},
                metrics={},
            )
            assert registry.promote(tuned.ref).current.ref == "extractor/4"

            engine = make_async_engine(settings.db.url)
            extractor = build_extractor_version(settings, registry=registry, version=tuned, engine=engine)
            try:
                extraction = await extractor.extract(RECEIPT)
            finally:
                await extractor.aclose()  # type: ignore[attr-defined]
                await engine.dispose()
            assert server.requests[-1]["model"] == "ft:gpt-4o-mini:org::abc"
            assert "ft:gpt-4o-mini:org::abc" in extraction.model_version
            assert registry.rollback("extractor").current.ref == "extractor/2"
        finally:
            registry.close()
