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
    """No From at all (bounces, some systems): kept, the sender unknown, on a contact of its own conversation."""
    return _crlf(f"""To: {SUPPORT}
Subject: orphan {tag}
Date: Thu, 5 Mar 2026 16:00:00 +0000
Message-ID: <m8.{tag}@nowhere.example>

no sender
""")


def internal(tag: str) -> bytes:
    """Between our own addresses only: no customer's timeline to put it on, so it is dead-lettered, raw."""
    return _crlf(f"""From: Suporte ACME <{SUPPORT}>
To: {SUPPORT}
Subject: nota interna {tag}
Date: Thu, 5 Mar 2026 16:30:00 +0000
Message-ID: <internal.{tag}@acme.example>

Reuniao as 15h.
""")


def with_from(tag: str, n: int, from_value: bytes | None) -> bytes:
    """A short inbound message whose From header is exactly ``from_value`` (None: no From header)."""
    head = b"" if from_value is None else b"From: " + from_value + b"\r\n"
    return head + _crlf(f"""To: {SUPPORT}
Subject: Pedido {n}
Date: Fri, 6 Mar 2026 10:00:00 +0000
Message-ID: <f{n}.{tag}@cliente.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Mensagem {n}.
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


def with_message_id(
    message_id: str,
    *,
    sender: str,
    to: str = SUPPORT,
    cc: str | None = None,
    subject: str = "Pedido",
    body: str = "Mensagem.",
    date: str = "Fri, 6 Mar 2026 10:00:00 +0000",
    trace: str = "",
) -> bytes:
    """A message under a given Message-ID (broken mailers and web forms reuse one); ``trace``: a Received header."""
    received = f"Received: {trace}\n" if trace else ""
    copied = f"Cc: {cc}\n" if cc else ""
    return _crlf(f"""{received}From: {sender}
To: {to}
{copied}Subject: {subject}
Date: {date}
Message-ID: <{message_id}>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

{body}
""")


# ---- Damaged real-world shapes (each reproduces a defect class seen in real support mailboxes) ----


def _raw(text: str) -> bytes:
    """CRLF line ends and the text's own bytes (UTF-8): for messages with undeclared 8-bit text."""
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def header_damaged(tag: str) -> bytes:
    """A forwarding script's line before the headers and continuation lines a gateway did not indent."""
    return _crlf(f"""---- Original email message ----
Received: from mx.cliente.example (mx.cliente.example [192.0.2.10])
by imap.acme.example with ESMTPS; Mon, 2 Mar 2026 09:14:03 +0000
X-Tracker: H4sIAAAAAAAAA+NgFlrIKsWRWlGSWpSXmKPExsWi75nTrTtrwZM
Ig5drOCwmrVzP5sDoseXbDeYAxijWzLyk/IoE1owFz6ezFkxKrWjafpWpgfFOchcjF4eQwDZG
From: Maria Silva <{MARIA}>
To: {SUPPORT}
Subject: Pedido de reembolso {tag}
Date: Mon, 2 Mar 2026 09:14:02 +0000
Message-ID: <hd.{tag}@cliente.example>

Quero o reembolso da encomenda 4471.
""")


def bounce(tag: str) -> bytes:
    """A delivery-status report (multipart/report): the reason, the status fields, the returned message."""
    return _crlf(f"""From: Mail Delivery System <MAILER-DAEMON@mx.cliente.example>
To: {SUPPORT}
Subject: Undelivered Mail Returned to Sender
Date: Mon, 2 Mar 2026 10:05:00 +0000
Message-ID: <bounce.{tag}@mx.cliente.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="rep"

--rep
Content-Type: text/plain; charset=us-ascii

I'm sorry to have to inform you that your message could not be delivered.
<antigo@cliente.example>: host mx.cliente.example said: 550 5.1.1 User unknown

--rep
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.cliente.example

Final-Recipient: rfc822; antigo@cliente.example
Action: failed
Status: 5.1.1

--rep
Content-Type: message/rfc822

From: Suporte ACME <{SUPPORT}>
To: antigo@cliente.example
Subject: A sua fatura {tag}
Message-ID: <sent.{tag}@acme.example>

A sua fatura segue em anexo.

--rep--
""")


def undeclared_utf8(tag: str) -> bytes:
    """UTF-8 text with no charset anywhere (webform mail): the standard library would show U+FFFD."""
    return _raw(f"""From: Formulário <webform@cliente.example>
To: {SUPPORT}
Subject: Contacto: reclamação {tag}
Date: Mon, 2 Mar 2026 11:00:00 +0000
Message-ID: <uu.{tag}@cliente.example>

Prénom: João
Mensagem: a fatura de março está errada, cobraram-me duas vezes.
""")


def mislabelled_gbk(tag: str) -> bytes:
    """GB2312 labels on GBK text (traditional characters GB2312 lacks), in the subject and the body."""
    subject = base64.b64encode("內應力產生的關係".encode("gbk")).decode()
    body = base64.b64encode("內應力產生与注塑工艺条件之间的关系\r\n".encode("gbk")).decode()
    return _crlf(f"""From: Zheng <zheng@cliente.example>
To: {SUPPORT}
Subject: =?GB2312?B?{subject}?=
Date: Mon, 2 Mar 2026 11:10:00 +0000
Message-ID: <gbk.{tag}@cliente.example>
MIME-Version: 1.0
Content-Type: text/plain; charset="GB2312"
Content-Transfer-Encoding: base64

{body}
""")


def jis_extended(tag: str) -> bytes:
    """ISO-2022-JP with a NEC extension character (circled 1) and a raw Shift_JIS subject, as Outlook sends."""
    head = _crlf(f"""From: Tanaka <tanaka@cliente.example>
To: {SUPPORT}
Date: Mon, 2 Mar 2026 11:20:00 +0000
Message-ID: <jis.{tag}@cliente.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=ISO-2022-JP
""")
    subject = b"Subject: " + "ツール".encode("cp932") + b"\r\n\r\n"
    body = b"\x1b$B-!\x1b(B " + "ツール".encode("iso2022_jp") + b"\r\n"
    return head + subject + body


def parts_side_by_side(tag: str) -> bytes:
    """multipart/mixed: text, an inline image, two HTML parts (Apple Mail), and an empty text beside HTML."""
    png = base64.b64encode(PNG).decode()
    return _crlf(f"""From: Ana Sousa <ana.sousa@cliente.example>
To: {SUPPORT}
Subject: Fotos do contador {tag}
Date: Mon, 2 Mar 2026 11:30:00 +0000
Message-ID: <mix.{tag}@cliente.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="mix"

--mix
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8


--alt
Content-Type: text/html; charset=utf-8

<p>Primeira parte: o contador marca 1234.</p>
--alt--

--mix
Content-Type: image/png
Content-Disposition: inline
Content-Transfer-Encoding: base64

{png}
--mix
Content-Type: text/html; charset=utf-8

<p>Segunda parte: depois da foto.</p>
--mix
Content-Type: text/plain; charset=utf-8

Terceira parte em texto.
--mix
Content-Type: text/html; charset=utf-8

<p>Ana Sousa <b>Cliente desde 2019</b></p>
--mix--
""")


def broken_multipart(tag: str) -> bytes:
    """Declared multipart, but the body has no boundary: the text must not become a bogus attachment."""
    return _crlf(f"""From: Pedro <pedro@cliente.example>
To: {SUPPORT}
Subject: Sem anexos {tag}
Date: Mon, 2 Mar 2026 11:40:00 +0000
Message-ID: <broken.{tag}@cliente.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="never-used"
Content-Transfer-Encoding: quoted-printable

Bom dia, o servi=E7o est=E1 em baixo desde ontem =E0 noite.
""")


def damaged_from(tag: str) -> bytes:
    """Two From headers, garbage in the first; the second's domain ends with a dot; a raw 8-bit file name."""
    return (
        _crlf(f"""From: [??????]
From: "Clemente" <Clemente.Silva@cliente.example.>
To: {SUPPORT}
Subject: Documentos {tag}
Date: Mon, 2 Mar 2026 11:50:00 +0000
Message-ID: <from.{tag}@cliente.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b"

--b
Content-Type: text/plain; charset=iso-8859-1

Segue o relat=F3rio.
--b
Content-Type: application/pdf
Content-Disposition: attachment; filename="relat@@rio.pdf"

%PDF-1.4
--b--
""")
        .replace(b"@@", "ó".encode("latin-1"))
        .replace(b"relat=F3rio", b"relat\xf3rio")
    )


def quoted_reply(tag: str) -> bytes:
    """A Gmail reply in Portuguese: the new text, then "Em ... escreveu:" and the quoted history."""
    return _raw(f"""From: =?utf-8?Q?Jo=C3=A3o_Concei=C3=A7=C3=A3o?= <{JOAO}>
To: Suporte ACME <{SUPPORT}>
Subject: Re: Fatura {tag}
Date: Tue, 3 Mar 2026 09:00:00 +0000
Message-ID: <q.{tag}@cliente.example>
In-Reply-To: <m2.{tag}@acme.example>
References: <m1.{tag}@cliente.example> <m2.{tag}@acme.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Ainda não recebi a fatura corrigida.

Em seg., 2 de mar. de 2026 às 10:02, Suporte ACME <{SUPPORT}> escreveu:
> Olá João,
>
> Já corrigimos a fatura: reembolso 9981.
""")


def newsletter_stub(tag: str) -> bytes:
    """multipart/alternative whose plain version only points to the HTML ("read it online")."""
    offer = "".join(f"<tr><td>Oferta {n}: contador inteligente com desconto de {n}0 %</td></tr>" for n in range(1, 13))
    return _crlf(
        f"""From: Novidades <novidades@loja.example>
To: {SUPPORT}
Subject: Novidades de março {tag}
Date: Mon, 2 Mar 2026 12:00:00 +0000
Message-ID: <news.{tag}@loja.example>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8

Leia esta newsletter online: https://loja.example/n/{tag}
--alt
Content-Type: text/html; charset=utf-8

<html><head><style>td {{ color: red }}</style></head><body><table>{offer}</table></body></html>
--alt--
""".replace("ç", "c")
    )


# ---- Over the broker's record limit (1 MiB, in bytes) ----


def long_cyrillic(tag: str, chars: int = 600_000) -> bytes:
    """A ~600,000-character Russian letter: under the limit counted in characters, twice over it in UTF-8 bytes."""
    words = "Привет мир "
    body = base64.encodebytes(((words * (chars // len(words))) + "\n").encode()).decode()
    return _crlf(f"""From: Ivan <ivan@cliente.example>
To: {SUPPORT}
Subject: Log
Date: Fri, 6 Mar 2026 10:00:00 +0000
Message-ID: <long.{tag}@cliente.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

{body}""")


def long_references(tag: str, count: int = 36_000) -> bytes:
    """A reply whose References name tens of thousands of messages (a mailing-list loop): over the limit with
    nothing that could be cut (the text is short), and its own bytes over it too as a dead letter (base64)."""
    folded = "\n ".join(f"<r{n}.{tag}@cliente.example>" for n in range(count))
    return _crlf(f"""From: Cliente <cliente@cliente.example>
To: {SUPPORT}
Subject: Re: Pedido
References: {folded}
Date: Fri, 6 Mar 2026 10:00:00 +0000
Message-ID: <refs.{tag}@cliente.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Hello again.
""")
