"""A private Dovecot IMAP server for the email tests (Debian's ``dovecot-imapd``, installed by ``.ci/run``).

Runs from its own config file in a temporary directory, on a free loopback port, plain LOGIN
without TLS. Every user name logs in with the one password and gets an empty Maildir of its own,
so each test takes a fresh mailbox by picking a new user name. Dovecot refuses to serve mail as
uid 0, so when the tests run as root the mail processes run as the ``mail`` user. The machine's
own Dovecot service (if any) is never touched.

Started with ``introspection_url``, it also takes SASL XOAUTH2 and OAUTHBEARER: its ``oauth2`` passdb
asks the OAuth 2.0 provider's introspection endpoint (RFC 7662) whether the token is active and
whose mailbox it opens (the ``username`` attribute), as Gmail and Microsoft 365 decide for theirs.

Started with ``auth_outages``, its password check is a checkpassword script that :meth:`Dovecot.auth_down`
can make fail for now (exit 111): Dovecot then answers every login ``NO [UNAVAILABLE] Temporary
authentication failure``, as a server whose LDAP or auth backend is down does.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from imapclient import IMAPClient

from omnitrail.local_stack import free_port, terminate

PASSWORD = "imap-test-password"

_CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login{mechanisms}
mail_location = maildir:{root}/mail/%u
mail_uid = {user}
mail_gid = {group}
first_valid_uid = {first_uid}
default_login_user = {user}
default_internal_user = {user}
default_internal_group = {group}
{oauth_passdb}{passdb}
userdb {{
  driver = static
  args = uid={user} gid={group} home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot ={anvil}
}}
protocol imap {{
  mail_max_userip_connections = 200
}}
"""

_STATIC_PASSDB = """\
passdb {{
  driver = static
  args = password={password}
}}
"""

_CHECKPASSWORD_PASSDB = """\
passdb {{
  driver = checkpassword
  args = {root}/checkpassword.sh
}}
"""

#: Exit 111 is checkpassword's "temporary problem"; on success it runs the program Dovecot passes.
_CHECKPASSWORD = """\
#!/bin/bash
[ -e {root}/auth-down ] && exit 111
IFS= read -r -d '' user <&3
IFS= read -r -d '' password <&3
[ "$password" = "{password}" ] || exit 1
exec "$@"
"""

_OAUTH_PASSDB = """\
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {root}/dovecot-oauth2.conf.ext
}}
"""

#: The test provider's access tokens live seconds; Dovecot's per-IP penalty after a failed login (every later
#: login from 127.0.0.1 waits 2 s doubling to 15 s before its token is looked at) would outlast them.
_NO_PENALTY = """
  unix_listener anvil-auth-penalty {
    mode = 0
  }"""

_OAUTH2 = """\
introspection_mode = post
introspection_url = {url}
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
"""


@dataclass
class Dovecot:
    root: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def start(cls, *, introspection_url: str | None = None, auth_outages: bool = False) -> Dovecot:
        binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
        if not Path(binary).exists():
            raise RuntimeError("dovecot is not installed: apt-get install dovecot-imapd (see .ci/run)")
        root = Path(tempfile.mkdtemp(prefix="omnitrail-dovecot-"))
        root.chmod(0o755)  # the mail user must reach its Maildirs below
        account = pwd.getpwnam("mail") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
        (root / "mail").mkdir()
        os.chown(root / "mail", account.pw_uid, account.pw_gid)
        server = cls(root, free_port())
        group = grp.getgrgid(account.pw_gid).gr_name
        oauth = introspection_url is not None
        if oauth:
            (root / "dovecot-oauth2.conf.ext").write_text(_OAUTH2.format(url=introspection_url))
        if auth_outages:
            script = root / "checkpassword.sh"
            script.write_text(_CHECKPASSWORD.format(root=root, password=PASSWORD))
            script.chmod(0o755)
        passdb = _CHECKPASSWORD_PASSDB if auth_outages else _STATIC_PASSDB
        config = _CONFIG.format(
            root=root,
            port=server.port,
            user=account.pw_name,
            group=group,
            password=PASSWORD,
            mechanisms=" xoauth2 oauthbearer" if oauth else "",
            # Dovecot 2.3's oauth2 passdb checks the mail uid against first_valid_uid even for its own user.
            first_uid=account.pw_uid if oauth else 0,
            oauth_passdb=_OAUTH_PASSDB.format(root=root) if oauth else "",
            passdb=passdb.format(root=root, password=PASSWORD),
            # Refused logins in these tests must not slow down the later, successful ones.
            anvil=_NO_PENALTY if oauth or auth_outages else "",
        )
        (root / "dovecot.conf").write_text(config)
        # -F: stay in the foreground, so the fixture owns the master process and its exit.
        server.proc = subprocess.Popen([binary, "-F", "-c", str(root / "dovecot.conf")])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", server.port), timeout=1):
                    return server
            except OSError:
                time.sleep(0.1)
        server.stop()
        raise RuntimeError(f"dovecot did not listen: {server.log()[-2000:]}")

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        terminate(self.proc)
        shutil.rmtree(self.root, ignore_errors=True)

    def new_user(self) -> str:
        """A fresh, empty mailbox (Dovecot creates it at first login)."""
        return f"support-{uuid.uuid4().hex[:10]}@acme.example"

    def client(self, user: str) -> IMAPClient:
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=30)
        client.login(user, PASSWORD)
        return client

    def append(self, user: str, folder: str, *messages: bytes, msg_time: datetime | None = None) -> None:
        """Deliver messages; ``msg_time`` sets their INTERNALDATE (what SEARCH SINCE looks at)."""
        client = self.client(user)
        try:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            for raw in messages:
                client.append(folder, raw, msg_time=msg_time)
        finally:
            client.logout()

    def recreate(self, user: str, folder: str) -> None:
        """Delete and re-create a folder with its messages: the server gives it a new UIDVALIDITY."""
        client = self.client(user)
        try:
            client.select_folder(folder)
            uids = client.search(["ALL"])
            raws = [item[b"BODY[]"] for item in client.fetch(uids, ["BODY.PEEK[]"]).values()]
            client.close_folder()
            client.delete_folder(folder)
            client.create_folder(folder)
            for raw in raws:
                client.append(folder, raw)
        finally:
            client.logout()

    def auth_down(self, down: bool) -> None:
        """(``auth_outages`` only) Every login fails for now while ``down``; the password counts again after."""
        flag = self.root / "auth-down"
        if down:
            flag.touch()
        else:
            flag.unlink(missing_ok=True)

    def kick(self, user: str) -> None:
        """Drop every IMAP connection of ``user`` (the server says BYE and closes)."""
        subprocess.run(
            ["doveadm", "-c", str(self.root / "dovecot.conf"), "kick", user],
            check=True,
            capture_output=True,
        )
