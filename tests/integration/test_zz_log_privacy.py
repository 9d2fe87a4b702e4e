"""Runs last (file order): every `omnitrail up` log of this test session holds no email address, no
phone number and none of the message texts the tests sent."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.integration

EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[a-z]{2,}", re.IGNORECASE)
PHONE = re.compile(r"(?<![\w.:/=-])\+\d{8,15}\b")
#: Words of the message bodies, subjects and names the tests send (Portuguese, as the fixtures are).
TEXTS = ["Olá", "encomenda", "fatura", "morada", "mensagem", "pedido", "preciso de ajuda", "Maria", "texto antigo"]


def test_session_logs_hold_no_personal_data(tmp_path_factory: pytest.TempPathFactory) -> None:
    logs = sorted(tmp_path_factory.getbasetemp().rglob("omnitrail-up.log"))
    assert logs, "no omnitrail up ran in this session"
    found: list[str] = []
    for path in logs:
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            hits = EMAIL.findall(line) + PHONE.findall(line) + [t for t in TEXTS if t.lower() in line.lower()]
            found += [f"{path.parent.name}/{path.name}:{number}: {hit}" for hit in hits]
    assert not found, "personal data in logs:\n" + "\n".join(found[:20])
