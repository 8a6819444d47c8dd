"""One set-up: per-component files, JSON lines on demand, stdlib logs routed exactly once."""

import json
import logging
import time

import pytest
from loguru import logger

from churn import logs
from churn.ops.native_stack import wait_until
from tests.helpers import settings_for


@pytest.fixture(autouse=True)
def restore_loguru():
    yield
    logger.remove()


def read_lines(path):
    logger.complete()
    return path.read_text(encoding="utf-8").splitlines()


def test_component_gets_its_own_file(tmp_path):
    settings = settings_for(tmp_path)
    logs.setup("training", settings)
    logger.info("stage one done")
    lines = read_lines(settings.logs_dir / "training.log")
    assert len(lines) == 1
    assert "| INFO     | training | - | " in lines[0] and lines[0].endswith("stage one done")


def test_text_lines_show_the_request_id_of_their_request(tmp_path):
    settings = settings_for(tmp_path)
    logs.setup("api", settings)
    with logger.contextualize(request_id="req-42"):
        logger.info("inside")
    logger.info("outside")
    inside, outside = read_lines(settings.logs_dir / "api.log")
    assert " | api | req-42 | " in inside and " | api | - | " in outside


def test_json_lines_carry_fields_and_bound_context(tmp_path):
    settings = settings_for(tmp_path, log_json=True)
    logs.setup("api", settings)
    logger.bind(request_id="abc-123", customer_id=42).warning("slow answer")
    logger.info("no request here")
    line, outside = read_lines(settings.logs_dir / "api.log")
    assert "request_id" not in json.loads(outside)
    record = json.loads(line)
    assert record["level"] == "WARNING" and record["message"] == "slow answer"
    assert record["component"] == "api"
    assert record["request_id"] == "abc-123" and record["customer_id"] == 42
    assert {"time", "module", "function", "line"} <= set(record)


def test_json_line_with_braces_in_the_message_stays_valid(tmp_path):
    settings = settings_for(tmp_path, log_json=True)
    logs.setup("api", settings)
    logger.info("metrics {}", {"f2": 0.7})
    (line,) = read_lines(settings.logs_dir / "api.log")
    assert json.loads(line)["message"] == "metrics {'f2': 0.7}"


def test_standard_library_and_uvicorn_loggers_are_written_once(tmp_path):
    uvicorn_logger = logging.getLogger("uvicorn.error")
    uvicorn_logger.addHandler(logging.StreamHandler())  # what uvicorn's own config does
    settings = settings_for(tmp_path)
    logs.setup("api", settings)
    uvicorn_logger.warning("port in use")
    logging.getLogger("some.library").error("library trouble")
    lines = read_lines(settings.logs_dir / "api.log")
    assert sum("port in use" in line for line in lines) == 1
    assert sum("library trouble" in line for line in lines) == 1
    assert uvicorn_logger.handlers == []


def test_gathered_lines_are_written_together_and_all_at_the_end(tmp_path):
    settings = settings_for(tmp_path, log_flush_seconds=10)  # no write before the end
    logs.setup("prediction", settings)
    for number in range(3):
        logger.info("line {}", number)
    assert not (settings.logs_dir / "prediction.log").exists()
    logger.remove()  # as at exit: each sink writes what it holds
    assert [line.rsplit("| ", 1)[-1] for line in read_lines(settings.logs_dir / "prediction.log")] == [
        "line 0", "line 1", "line 2"]


def test_gathered_lines_reach_the_file_within_the_interval(tmp_path):
    settings = settings_for(tmp_path, log_flush_seconds=0.05)
    logs.setup("prediction", settings)
    logger.info("soon on disk")
    wait_until(lambda: (settings.logs_dir / "prediction.log").is_file()
               and "soon on disk" in (settings.logs_dir / "prediction.log").read_text(),
               "the line written", timeout=5)


@pytest.mark.parametrize("seconds", [0, 0.01])
def test_gathered_lines_rotate_and_none_is_lost(tmp_path, seconds):
    settings = settings_for(tmp_path, log_rotation="2 KB", log_backups=1000, log_flush_seconds=seconds)
    logs.setup("prediction", settings)
    for number in range(300):
        logger.info("progress line {} {}", number, "x" * 40)
        if number % 50 == 0:
            time.sleep(0.02)  # not a wait for readiness: the writer thread writes some in between
    logger.remove()
    files = list(settings.logs_dir.glob("prediction.log*"))
    numbers = sorted(int(line.split("progress line ")[1].split()[0])
                     for path in files for line in path.read_text().splitlines())
    assert len(files) > 3 and numbers == list(range(300))


def test_level_filters_lower_levels(tmp_path):
    settings = settings_for(tmp_path, log_level="WARNING")
    logs.setup("training", settings)
    logger.info("hidden")
    logger.warning("shown")
    assert [line.rsplit("| ", 1)[-1] for line in read_lines(settings.logs_dir / "training.log")] == [
        "shown"]


def test_records_go_to_their_jsonl_file_only_whatever_the_level(tmp_path):
    settings = settings_for(tmp_path, log_level="ERROR")
    logs.setup("api", settings)
    assert not (settings.logs_dir / "input_samples.jsonl").exists()  # created with its first line
    logs.write_record("input_samples", {"Age": 41.0, "churn_probability": 0.2})
    logs.write_record("alerts", {"status": "firing"})  # not a record of the api: written nowhere
    lines = read_lines(settings.logs_dir / "input_samples.jsonl")
    assert [json.loads(line) for line in lines] == [{"Age": 41.0, "churn_probability": 0.2}]
    assert not (settings.logs_dir / "api.log").exists()
    assert not (settings.logs_dir / "alerts.jsonl").exists()
