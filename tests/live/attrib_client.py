# A client that forks (issue 15's live test): parent and child each write their pid to
# OUT.parent / OUT.child, then make one HTTP and one HTTPS request tagged with who they are.
# SSLKEYLOGFILE (from the environment) makes Python's ssl log the TLS secrets.
import os
import ssl
import sys
import urllib.request

base_http, base_https, tag, out = sys.argv[1:5]
ctx = ssl._create_unverified_context()


def get(url):
    kw = {"context": ctx} if url.startswith("https") else {}
    try:
        urllib.request.urlopen(url, timeout=10, **kw).read()
    except urllib.error.HTTPError as e:
        e.read()


pid = os.fork()
who = "child" if pid == 0 else "parent"
with open(f"{out}.{who}", "w") as f:
    f.write(str(os.getpid()))
get(f"{base_http}/?who={tag}-{who}-plain")
get(f"{base_https}/json?who={tag}-{who}-tls")
if pid == 0:
    os._exit(0)
_, status = os.waitpid(pid, 0)
sys.exit(os.WEXITSTATUS(status))
