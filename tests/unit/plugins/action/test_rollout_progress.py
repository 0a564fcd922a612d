"""The rollout's progress lines: written by the module one by one, printed by the action plugin once each."""

from ansible_collections.pinotops.k8s.plugins.action import pinot_cluster_rollout as action
from ansible_collections.pinotops.k8s.plugins.module_utils.cluster.progress import PlayChannel


def test_the_module_appends_each_line_and_keeps_them_for_the_result(tmp_path):
    path = tmp_path / "progress.log"
    path.write_text("")
    log = PlayChannel(str(path))
    log("broker 1/2 pinot-broker-1: restarted")
    assert path.read_text() == "broker 1/2 pinot-broker-1: restarted\n"
    log("a reason that spans\nlines")
    assert path.read_text().splitlines()[1] == "a reason that spans lines"
    assert log.lines == ["broker 1/2 pinot-broker-1: restarted", "a reason that spans lines"]


def test_a_file_the_module_cannot_write_only_loses_the_live_display(tmp_path):
    log = PlayChannel(str(tmp_path))  # a directory: open() fails
    log("one")
    log("two")
    assert not log.writable and log.lines == ["one", "two"]
    assert not log.gone()


def test_the_play_is_gone_when_its_progress_file_is_removed(tmp_path):
    path = tmp_path / "progress.log"
    path.write_text("")
    log = PlayChannel(str(path))
    assert not log.gone()
    path.unlink()
    log("a line after the play ended")
    assert log.gone() and not path.exists()  # never re-created
    assert not PlayChannel(None).gone()


def test_the_tail_prints_complete_lines_once(tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(action.display, "display", shown.append)
    path = tmp_path / "progress.log"
    path.write_text("")
    tail = action.ProgressTail(str(path), "[one] ")
    with path.open("a") as log:
        log.write("first\nsecond, half")
        log.flush()
        tail._show_new()
        assert shown == ["[one] first"]
        log.write(" written\nthird – ünïcode\n")
        log.flush()
    tail.start()
    tail.finish()
    assert shown == ["[one] first", "[one] second, half written", "[one] third – ünïcode"]
    assert tail.shown == 3


def test_the_tail_removes_the_file_when_ansible_playbook_is_gone(tmp_path, monkeypatch):
    path = tmp_path / "progress.log"
    path.write_text("")
    tail = action.ProgressTail(str(path), "")
    monkeypatch.setattr(action.os, "getppid", lambda: 1)  # reparented: the process that forked this worker ended
    tail.start()
    tail.join(5)
    assert not tail.is_alive() and not path.exists()
