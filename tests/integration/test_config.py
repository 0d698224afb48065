"""Config-time validation: `apache2 -t` rejects each bad directive, naming it."""
import os

import pytest

import pyvt


def bad(cfg, directive, rc, out):
    assert rc != 0, "apache2 -t accepted a bad %s:\n%s" % (directive, out)
    assert directive in out, "the error does not name %s:\n%s" % (directive, out)


@pytest.mark.parametrize("value", ["ftp://x", "https://", "https://x/?q=1", "https://x/#f",
                                   "calls.example.com", "http//x", "https://x y"])
def test_bad_public_url(config_apache, value):
    rc, out = config_apache.config_test(vhost_extra="    VoxTwilioPublicURL %s" % value)
    bad(config_apache, "VoxTwilioPublicURL", rc, out)


@pytest.mark.parametrize("value", ["ftp://api.twilio.com", "api.twilio.com", "https://",
                                   "https://api.twilio.com/?x=1"])
def test_bad_api_base(config_apache, value):
    rc, out = config_apache.config_test(api_base=value)
    bad(config_apache, "VoxTwilioAPIBase", rc, out)


@pytest.mark.parametrize("value", ["https://calls.example.com", "https://calls.example.com/",
                                   "http://127.0.0.1:8080", "https://calls.example.com/base"])
def test_good_public_url(config_apache, value):
    rc, out = config_apache.config_test(vhost_extra="    VoxTwilioPublicURL %s" % value)
    assert rc == 0, out


def test_key_file_missing(config_apache):
    rc, out = config_apache.config_test(
        key_file=os.path.join(config_apache.root, "no-such.keys"))
    bad(config_apache, "VoxTwilioKeyFile", rc, out)


@pytest.mark.parametrize("mode", [0o640, 0o644, 0o604, 0o660])
def test_key_file_readable_by_others(config_apache, mode):
    path = pyvt.make_key_file(os.path.join(config_apache.root, "k-%o.keys" % mode), mode=mode)
    rc, out = config_apache.config_test(key_file=path)
    bad(config_apache, "VoxTwilioKeyFile", rc, out)


@pytest.mark.parametrize("content", ["", "# only a comment\n", "k1:abcd\n", "not a key\n",
                                     "bad id!:" + "00" * 32 + "\n"])
def test_key_file_without_a_valid_key(config_apache, content):
    path = os.path.join(config_apache.root, "bad.keys")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(content)
    rc, out = config_apache.config_test(key_file=path)
    bad(config_apache, "VoxTwilioKeyFile", rc, out)


def test_key_file_mode_0400_is_fine(config_apache):
    path = pyvt.make_key_file(os.path.join(config_apache.root, "ro.keys"), mode=0o400)
    rc, out = config_apache.config_test(key_file=path)
    assert rc == 0, out


@pytest.mark.parametrize("value", ["Bad_Slug!", "UPPER", "-leading", "a" * 64, "with.dot"])
def test_bad_tenant_slug(config_apache, value):
    rc, out = config_apache.config_test(vhost_extra="    VoxTwilioTenant %s" % value)
    bad(config_apache, "VoxTwilioTenant", rc, out)


def test_good_tenant_slug(config_apache):
    rc, out = config_apache.config_test(vhost_extra="    VoxTwilioTenant acme-dental-2")
    assert rc == 0, out


@pytest.mark.parametrize("value", ["0", "-1", "abc", "12abc", "99999999999999999999999"])
def test_bad_max_body(config_apache, value):
    rc, out = config_apache.config_test(vhost_extra="    VoxTwilioMaxBody %s" % value)
    bad(config_apache, "VoxTwilioMaxBody", rc, out)


def test_good_max_body(config_apache):
    rc, out = config_apache.config_test(vhost_extra="    VoxTwilioMaxBody 1024")
    assert rc == 0, out


@pytest.mark.parametrize("value", ["Maybe", "yes", "1"])
def test_bad_voxtwilio_flag(config_apache, value):
    rc, out = config_apache.config_test(voxtwilio=value)
    bad(config_apache, "VoxTwilio", rc, out)


def test_bad_signature_flag(config_apache):
    rc, out = config_apache.config_test(vhost_extra="    VoxTwilioSignature Sometimes")
    bad(config_apache, "VoxTwilioSignature", rc, out)


def test_voxtwilio_on_without_mod_dbd(config_apache):
    rc, out = config_apache.config_test(with_dbd=False)
    assert rc != 0, "VoxTwilio On without mod_dbd passed apache2 -t:\n" + out
    assert "mod_dbd" in out, out


def test_voxtwilio_off_without_mod_dbd_is_fine(config_apache):
    rc, out = config_apache.config_test(with_dbd=False, voxtwilio="Off")
    assert rc == 0, out


def test_valid_config(config_apache):
    rc, out = config_apache.config_test(
        vhost_extra="    VoxTwilioPublicURL https://calls.example.com\n"
                    "    VoxTwilioTenant acme\n    VoxTwilioMaxBody 65536\n"
                    "    VoxTwilioSignature On")
    assert rc == 0, out
    assert "Syntax OK" in out


@pytest.mark.parametrize("where, value", [("server_extra", "-1"), ("server_extra", "abc"),
                                          ("server_extra", "100001"),
                                          ("server_extra", "12 tenants"),
                                          ("vhost_extra", "10")])
def test_bad_assistant_cache(config_apache, where, value):
    """A number of tenants from 0 to 100000, and only at server level: the cache is the
    child's, shared by its virtual hosts."""
    rc, out = config_apache.config_test(**{where: "VoxTwilioAssistantCache %s" % value})
    bad(config_apache, "VoxTwilioAssistantCache", rc, out)


@pytest.mark.parametrize("value", ["0", "1", "256", "100000"])
def test_good_assistant_cache(config_apache, value):
    rc, out = config_apache.config_test(server_extra="VoxTwilioAssistantCache %s" % value)
    assert rc == 0, out


@pytest.mark.parametrize("where, value", [("server_extra", "-1"), ("server_extra", "many"),
                                          ("server_extra", "1000001"),
                                          ("vhost_extra", "10")])
def test_bad_tenant_cache(config_apache, where, value):
    """A number of tenant rows from 0 to 1000000, at server level only (the child's)."""
    rc, out = config_apache.config_test(**{where: "VoxTwilioTenantCache %s" % value})
    bad(config_apache, "VoxTwilioTenantCache", rc, out)


@pytest.mark.parametrize("value", ["0", "1024", "1000000"])
def test_good_tenant_cache(config_apache, value):
    rc, out = config_apache.config_test(server_extra="VoxTwilioTenantCache %s" % value)
    assert rc == 0, out


@pytest.mark.parametrize("where, value", [("server_extra", "0"), ("server_extra", "On"),
                                          ("server_extra", "65"), ("vhost_extra", "2")])
def test_bad_group_commit(config_apache, where, value):
    """Off or a number of groups from 1 to 64, at server level only (the child's)."""
    rc, out = config_apache.config_test(**{where: "VoxTwilioGroupCommit %s" % value})
    bad(config_apache, "VoxTwilioGroupCommit", rc, out)


@pytest.mark.parametrize("value", ["Off", "off", "1", "2", "64"])
def test_good_group_commit(config_apache, value):
    rc, out = config_apache.config_test(server_extra="VoxTwilioGroupCommit %s" % value)
    assert rc == 0, out
