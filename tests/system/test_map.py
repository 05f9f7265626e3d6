"""postern map (postmap) and postern alias (postalias, newaliases), through
the real command: building hash: and btree: tables, querying them, bad
source lines reported with file and line while the old table stays, and
table ownership when root builds someone else's source."""
import os
import pwd

from conftest import needs_root

pytestmark = needs_root


def src(inst, name, text):
    """Writes a source file into the instance directory; returns its path."""
    inst.write(name, text)
    return os.path.join(inst.dir, name)


def query(inst, key, *tables, check=True):
    return inst.cmd("map", "-q", key, *tables, check=check)


VIRTUAL = """\
# virtual-style map
Alice@Example.COM   alice
bob@example.com     bob, carol
long@example.com    first
  continued here

postmaster@example.com root
"""


def test_map_builds_hash_and_btree_and_queries(inst):
    inst.init()
    path = src(inst, "virtual", VIRTUAL)
    for typ in ("hash", "btree"):
        r = inst.cmd("map", f"{typ}:{path}")
        assert r.stdout == "" and r.stderr == ""
        assert os.path.isfile(path + ".db")
        assert not os.path.exists(path + ".db.tmp")
        # keys fold to lower case when built and when looked up
        assert query(inst, "alice@example.com", f"{typ}:{path}").stdout == "alice\n"
        assert query(inst, "ALICE@EXAMPLE.COM", f"{typ}:{path}").stdout == "alice\n"
        assert query(inst, "bob@example.com", f"{typ}:{path}").stdout == "bob, carol\n"
        assert query(inst, "long@example.com", f"{typ}:{path}").stdout == \
            "first  continued here\n"
        r = query(inst, "nobody@example.com", f"{typ}:{path}", check=False)
        assert r.returncode == 1 and r.stdout == ""
        os.unlink(path + ".db")
    # no type: hash
    inst.cmd("map", path)
    assert query(inst, "postmaster@example.com", path).stdout == "root\n"
    # a hash table opened as btree is an error, not "not found"
    r = query(inst, "x", f"btree:{path}", check=False)
    assert r.returncode == 2 and path + ".db" in r.stderr
    # the first table that has the key answers; texthash needs no build
    other = src(inst, "other", "alice@example.com  from-texthash\nonly@x  here\n")
    assert query(inst, "only@x", f"hash:{path}", f"texthash:{other}").stdout == "here\n"
    assert query(inst, "alice@example.com", f"texthash:{other}", f"hash:{path}").stdout \
        == "from-texthash\n"


def test_map_query_from_stdin(inst):
    inst.init()
    path = src(inst, "virtual", VIRTUAL)
    inst.cmd("map", f"hash:{path}")
    argv = [os.path.join(inst.stage, "bin", "postern"), "-c", inst.dir,
            "map", "-q", "-", f"hash:{path}"]
    import subprocess
    r = subprocess.run(argv, input="bob@example.com\nnone@x\nALICE@example.com\n",
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0
    assert r.stdout == "bob@example.com\tbob, carol\nALICE@example.com\talice\n"


def test_map_missing_table_and_source(inst):
    inst.init()
    missing = os.path.join(inst.dir, "nothere")
    r = query(inst, "x", f"hash:{missing}", check=False)
    assert r.returncode == 2
    assert f"{missing}.db" in r.stderr and "No such file or directory" in r.stderr
    r = inst.cmd("map", f"hash:{missing}", check=False)
    assert r.returncode == 1 and missing in r.stderr
    assert not os.path.exists(missing + ".db")
    r = inst.cmd("map", f"pcre:{missing}", check=False)
    assert r.returncode == 1 and "hash: and btree: can be built" in r.stderr


def test_map_bad_line_keeps_old_table(inst):
    inst.init()
    path = src(inst, "virtual", VIRTUAL)
    inst.cmd("map", f"hash:{path}")
    before = os.stat(path + ".db")
    src(inst, "virtual", VIRTUAL.replace("alice\n", "changed\n")
        + "lonelykey\n\nnew@example.com new\n  more\n")
    r = inst.cmd("map", f"hash:{path}", check=False)
    assert r.returncode == 1
    assert f"{path}, line 8: expected format: key whitespace value" in r.stderr, r.stderr
    assert f"{path}.db left unchanged" in r.stderr
    # the old table is the same file, still answers the old way
    after = os.stat(path + ".db")
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert query(inst, "alice@example.com", f"hash:{path}").stdout == "alice\n"
    assert query(inst, "new@example.com", f"hash:{path}", check=False).returncode == 1
    assert not os.path.exists(path + ".db.tmp")


def test_map_duplicate_is_a_warning(inst):
    inst.init()
    path = src(inst, "dups", "key first\nother x\nKEY second\n")
    r = inst.cmd("map", f"btree:{path}")
    assert f"{path}, line 3: duplicate entry: \"KEY\"; keeping the first" in r.stderr
    assert query(inst, "key", f"btree:{path}").stdout == "first\n"


def test_map_keeps_mode_of_old_table(inst):
    inst.init()
    path = src(inst, "secret", "relay.example.com user:password\n")
    inst.cmd("map", f"hash:{path}")
    os.chmod(path + ".db", 0o600)
    inst.cmd("map", f"hash:{path}")
    assert os.stat(path + ".db").st_mode & 0o7777 == 0o600


ALIASES = """\
# aliases(5) as postern parses it
postmaster: root
root:   alice, bob@example.com
staff:  alice,
        bob,

        carol
"Quoted Name": alice
"colon:name": bob
archive: /var/spool/archive/mbox
maildir: /home/alice/Maildir/
filter: "|/usr/bin/procmail -a one, two", |/bin/cat
list:   :include:/etc/postern/list.txt
MixedCase: Root
"""


def test_alias_builds_every_kind_of_value(inst):
    inst.init()
    path = src(inst, "test-aliases", ALIASES)
    r = inst.cmd("alias", f"hash:{path}")
    assert r.stderr == ""
    t = f"hash:{path}"

    def q(key):
        return inst.cmd("alias", "-q", key, t).stdout

    assert q("postmaster") == "root\n"
    assert q("ROOT") == "alice, bob@example.com\n"
    assert q("staff") == "alice,        bob,        carol\n"
    assert q("quoted name") == "alice\n"
    assert q("colon:name") == "bob\n"
    assert q("archive") == "/var/spool/archive/mbox\n"
    assert q("maildir") == "/home/alice/Maildir/\n"
    assert q("filter") == '"|/usr/bin/procmail -a one, two", |/bin/cat\n'
    assert q("list") == ":include:/etc/postern/list.txt\n"
    assert q("mixedcase") == "Root\n"
    assert inst.cmd("alias", "-q", "nobody", t, check=False).returncode == 1
    # postern map reads the same table
    assert query(inst, "postmaster", t).stdout == "root\n"


def test_alias_bad_line_keeps_old_table(inst):
    inst.init()
    path = src(inst, "test-aliases", ALIASES)
    inst.cmd("alias", f"btree:{path}")
    src(inst, "test-aliases", "postmaster: changed\nnew: x\ngood: y\nthis line is bad\n"
        "empty:\n  \nok: z\n")
    r = inst.cmd("alias", f"btree:{path}", check=False)
    assert r.returncode == 1
    assert f"{path}, line 4: expected format: name: value" in r.stderr, r.stderr
    assert f"{path}, line 5: empty alias value" in r.stderr, r.stderr
    assert f"{path}.db left unchanged" in r.stderr
    assert inst.cmd("alias", "-q", "postmaster", f"btree:{path}").stdout == "root\n"
    assert inst.cmd("alias", "-q", "new", f"btree:{path}", check=False).returncode == 1
    assert not os.path.exists(path + ".db.tmp")


def test_alias_without_arguments_builds_alias_database(inst):
    inst.init()
    one = src(inst, "one-aliases", "postmaster: root\n")
    two = src(inst, "more-aliases", "abuse: root\n")
    r = inst.cmd("conf", "-d", "alias_database", "alias_maps")
    assert r.stdout == "alias_database = hash:/etc/aliases\nalias_maps = hash:/etc/aliases\n"
    inst.cmd("conf", "-e", f"alias_database = hash:{one}, btree:{two}")
    inst.cmd("alias")
    assert inst.cmd("alias", "-q", "postmaster", f"hash:{one}").stdout == "root\n"
    assert inst.cmd("alias", "-q", "abuse", f"btree:{two}").stdout == "root\n"


def test_root_builds_as_owner_of_the_source(inst):
    """As postmap does: root building a source owned by someone else works
    with that owner's ids, so the table belongs to the source's owner."""
    inst.init()
    nobody = pwd.getpwnam("nobody")
    d = os.path.join(inst.dir, "userdir")
    os.mkdir(d)
    os.chown(d, nobody.pw_uid, nobody.pw_gid)
    path = os.path.join(d, "aliases")
    with open(path, "w") as f:
        f.write("postmaster: root\n")
    os.chown(path, nobody.pw_uid, nobody.pw_gid)
    inst.cmd("alias", f"hash:{path}")
    st = os.stat(path + ".db")
    assert (st.st_uid, st.st_gid) == (nobody.pw_uid, nobody.pw_gid)
    # the same source in a directory only root may write: the owner cannot
    # create the table there, and nothing is created as root either
    os.rename(path, os.path.join(inst.dir, "user-aliases"))
    path = os.path.join(inst.dir, "user-aliases")
    r = inst.cmd("alias", f"hash:{path}", check=False)
    assert r.returncode == 1 and "Permission denied" in r.stderr
    assert not os.path.exists(path + ".db")
