"""The containers' healthcheck: 0 only for a 2xx answer, 1 with one line for anything else."""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from churn.ops.healthcheck import check
from tests.integration.processes import free_port


class Answers(BaseHTTPRequestHandler):
    """GET /<status> answers with that status."""

    def do_GET(self) -> None:
        self.send_response(int(self.path.strip("/")))
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_2xx_answer_is_healthy(server, capsys):
    assert check(f"{server}/200") == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("status", [404, 503])
def test_an_error_answer_is_unhealthy_with_one_line(server, capsys, status):
    assert check(f"{server}/{status}") == 1
    assert capsys.readouterr().err.count("\n") == 1


def test_nothing_listening_is_unhealthy(capsys):
    assert check(f"http://127.0.0.1:{free_port()}/ready") == 1
    assert "Connection refused" in capsys.readouterr().err
