"""Real-world-shaped email (RFC 5322 / MIME exactly as clients send it) for the email tests.

Every builder takes a ``tag`` that goes into each Message-ID, so tests sharing one database never
collide. Shapes: ISO-8859-1 encoded-word headers with a quoted-printable body (Portuguese webmail),
an Outlook reply in Sent (UTF-8 base64 encoded words, multipart/alternative, Thread-Index), a
Windows-1252 reply with a PDF attachment and an inline image (multipart/mixed > related >
alternative), an HTML-only message, a message without Message-ID, a forwarded message
(message/rfc822), and a malformed one (unknown charsets, broken address header).
"""

from __future__ import annotations

import base64

SUPPORT = "support@acme.example"
JOAO = "joao.conceicao@cliente.example"
MARIA = "maria@cliente.example"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
THREAD_INDEX = base64.b64encode(bytes(range(22))).decode()  # 6 bytes time + 16 bytes conversation GUID


def _crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("ascii")


def complaint(tag: str, to: str = SUPPORT) -> bytes:
    """Inbound, ISO-8859-1 everywhere, quoted-printable body, a second customer in Cc."""
    return _crlf(f"""Return-Path: <{JOAO}>
Received: from mx.cliente.example (mx.cliente.example [192.0.2.10])
\tby imap.acme.example with ESMTPS; Mon, 2 Mar 2026 09:14:03 +0000
From: =?ISO-8859-1?Q?Jo=E3o_Concei=E7=E3o?= <{JOAO}>
To: Suporte ACME <{to}>
Cc: Maria Silva <{MARIA}>
Subject: =?ISO-8859-1?Q?Reclama=E7=E3o_da_fatura_de_fevereiro?=
Date: Mon, 2 Mar 2026 09:14:02 +0000
Message-ID: <m1.{tag}@cliente.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=ISO-8859-1
Content-Transfer-Encoding: quoted-printable

Ol=E1,

A fatura de fevereiro est=E1 errada: cobraram-me duas vezes o servi=E7o.

Obrigado,
Jo=E3o
""")


def outlook_reply(tag: str) -> bytes:
    """Outbound (in Sent), Outlook: UTF-8 base64 encoded words, multipart/alternative, Thread-Index."""
    text = base64.b64encode("Olá João,\r\n\r\nJá corrigimos a fatura.\r\n\r\nSuporte ACME\r\n".encode()).decode()
    html = base64.b64encode(
        "<html><body><p>Olá João,</p><p>Já corrigimos a fatura.</p><p>Suporte ACME</p></body></html>".encode()
    ).decode()
    return _crlf(f"""From: Suporte ACME <{SUPPORT}>
To: =?utf-8?B?Sm/Do28gQ29uY2Vpw6fDo28=?= <{JOAO}>
Subject: =?utf-8?B?UkU6IFJlY2xhbWHDp8OjbyBkYSBmYXR1cmEgZGUgZmV2ZXJlaXJv?=
Thread-Topic: =?utf-8?B?UmVjbGFtYcOnw6NvIGRhIGZhdHVyYSBkZSBmZXZlcmVpcm8=?=
Thread-Index: {THREAD_INDEX}
Date: Mon, 2 Mar 2026 10:02:11 +0000
Message-ID: <m2.{tag}@acme.example>
In-Reply-To: <m1.{tag}@cliente.example>
References: <m1.{tag}@cliente.example>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="_000_alt_"

--_000_alt_
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: base64

{text}
--_000_alt_
Content-Type: text/html; charset="utf-8"
Content-Transfer-Encoding: base64

{html}
--_000_alt_--
""")


def outlook_rewritten_reply(tag: str) -> bytes:
    """An Outlook reply whose In-Reply-To Exchange rewrote to an id nobody else has, and no References:
    only the conversation in ``Thread-Index`` (the first 22 bytes, plus 5 per reply) ties it to its thread."""
    child_index = base64.b64encode(base64.b64decode(THREAD_INDEX) + bytes([1, 2, 3, 4, 5])).decode()
    return _crlf(f"""From: =?utf-8?Q?Jo=C3=A3o_Concei=C3=A7=C3=A3o?= <{JOAO}>
To: {SUPPORT}
Subject: =?utf-8?Q?RE:_Reclama=C3=A7=C3=A3o_da_fatura_de_fevereiro?=
Thread-Topic: =?utf-8?Q?Reclama=C3=A7=C3=A3o_da_fatura_de_fevereiro?=
Thread-Index: {child_index}
Date: Mon, 2 Mar 2026 12:10:00 +0000
Message-ID: <m9.{tag}@cliente.example>
In-Reply-To: <AM0PR01MB1234{tag}@AM0PR01MB1234.eurprd01.prod.exchangelabs.com>
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: quoted-printable

Mais uma coisa: o NIF na fatura tamb=C3=A9m est=C3=A1 errado.
""")


def reply_with_attachment(tag: str) -> bytes:
    """Inbound Windows-1252 reply with a PDF attachment and an inline image (mixed > related > alternative)."""
    pdf = base64.b64encode(PDF).decode()
    png = base64.b64encode(PNG).decode()
    return _crlf(f"""From: =?windows-1252?Q?Jo=E3o_Concei=E7=E3o?= <{JOAO}>
To: {SUPPORT}
Subject: =?windows-1252?Q?RE:_RE:_Reclama=E7=E3o_da_fatura_de_fevereiro?=
Date: Mon, 2 Mar 2026 11:30:00 +0000
Message-ID: <m3.{tag}@cliente.example>
In-Reply-To: <m2.{tag}@acme.example>
References: <m1.{tag}@cliente.example> <m2.{tag}@acme.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="mixed"

--mixed
Content-Type: multipart/related; boundary="related"

--related
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset="windows-1252"
Content-Transfer-Encoding: quoted-printable

Obrigado! Paguei 49,90 =80 a mais, segue o comprovativo =93em anexo=94.

--alt
Content-Type: text/html; charset="windows-1252"
Content-Transfer-Encoding: quoted-printable

<p>Obrigado! Paguei 49,90 =80 a mais.</p><img src=3D"cid:logo@cliente">

--alt--

--related
Content-Type: image/png; name="logo.png"
Content-Disposition: inline; filename="logo.png"
Content-ID: <logo@cliente>
Content-Transfer-Encoding: base64

{png}
--related--

--mixed
Content-Type: application/pdf; name="=?windows-1252?Q?comprovativo_fevereiro.pdf?="
Content-Disposition: attachment; filename*=windows-1252''comprovativo%20fevereiro.pdf
Content-Transfer-Encoding: base64

{pdf}
--mixed--
""")


def html_only(tag: str) -> bytes:
    return _crlf(f"""From: Ana Sousa <ana.sousa@cliente.example>
To: {SUPPORT}
Subject: =?UTF-8?Q?Pedido_de_informa=C3=A7=C3=A3o?=
Date: Tue, 3 Mar 2026 08:00:00 +0100
Message-ID: <m4.{tag}@cliente.example>
MIME-Version: 1.0
Content-Type: text/html; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

<html><head><style>p {{ color: red }}</style></head><body><p>Bom dia,</p><p>Qual =C3=A9 o hor=C3=
=A1rio da loja?<br>Ana</p></body></html>
""")


def without_message_id(tag: str) -> bytes:
    """Some scanners and old scripts send no Message-ID: identity is a hash of the raw bytes."""
    return _crlf(f"""From: pedro@cliente.example
To: {SUPPORT}
Subject: Scan {tag}
Date: Wed, 4 Mar 2026 12:00:00 +0000
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Documento digitalizado {tag}.
""")


def forwarded(tag: str) -> bytes:
    inner = complaint(f"fwd-{tag}").decode("ascii")
    return _crlf(f"""From: Rita Lopes <rita@cliente.example>
To: {SUPPORT}
Subject: Fwd: =?ISO-8859-1?Q?Reclama=E7=E3o_da_fatura_de_fevereiro?=
Date: Thu, 5 Mar 2026 15:45:00 +0000
Message-ID: <m6.{tag}@cliente.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="fwd"

--fwd
Content-Type: text/plain; charset=utf-8

Reencaminho a mensagem do meu colega.

--fwd
Content-Type: message/rfc822
Content-Disposition: attachment; filename="forwarded.eml"

{inner}
--fwd--
""")


def malformed(tag: str) -> bytes:
    """Unknown charsets in a header and in the body, an address header with garbage around it."""
    return _crlf(f"""From: "Broken Client <broken@cliente.example>
To: {SUPPORT}, <<>>,
Subject: =?x-bogus-charset?Q?Ol=E1?= mundo
Date: not a date
Message-ID: <m7.{tag}@cliente.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=x-unknown-8bit
Content-Transfer-Encoding: 8bit

""") + "Caf\u00e9 com p\u00e3o\r\n".encode("latin-1")


def no_sender(tag: str) -> bytes:
    """No From at all: nobody to attach it to, so it is dead-lettered with its raw bytes."""
    return _crlf(f"""To: {SUPPORT}
Subject: orphan {tag}
Date: Thu, 5 Mar 2026 16:00:00 +0000
Message-ID: <m8.{tag}@nowhere.example>

no sender
""")


def simple(tag: str, n: int, *, sender: str = "cliente@cliente.example") -> bytes:
    return _crlf(f"""From: Cliente {n} <{sender}>
To: {SUPPORT}
Subject: Pedido {n}
Date: Fri, 6 Mar 2026 10:00:00 +0000
Message-ID: <s{n}.{tag}@cliente.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Mensagem {n}.
""")
