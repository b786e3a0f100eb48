"""Every defect of issue 13 as a regression case.

Each defect already has a test that failed before its fix; the hostile suite references
those rather than repeating them, and this module fails if one of them is renamed or
removed. Where a hostile class here exercises the same defect against the running
server, it is named too.

 1 big valid push freezes everything     test_big_push.py (caps, loop stays free while
                                         the biggest push is processed, poisoned delivery
                                         set aside after three attempts)
 2 webhook tokens in the log             test_redact.py; here test_secrets.py
 3 user templates pass payload raw       test_render_escaping.py; here
                                         test_text_injection.py (masked links, markdown,
                                         fence breaks through a user template)
 4 console passes terminal controls      test_console_sink.py; here test_text_injection.py
                                         (no control reaches any post either)
 5 gzip header on plain body → 500       test_server_hostile.py; here test_transport.py
 6 ERROR tracebacks without signature    test_server_hostile.py; here every class checks
                                         the log for tracebacks
 7 slow clients never timed out          test_server_hostile.py; here test_transport.py
 8 empty X-GitHub-Event accepted         test_server.py
 9 start-up errors as tracebacks         e2e/test_startup_errors.py
10 format reset --preview resets, …      test_cli_ux.py
11 documented but not built              test_settings_docs.py (now built: not marked)
12 smaller UX                            test_previous_tokens.py, test_cli_ux.py
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]

REGRESSIONS = {
    1: [
        "bot/test_big_push.py::test_ten_thousand_commits_parse_with_caps",
        "bot/test_big_push.py::test_loop_stays_free_while_the_biggest_push_is_processed",
        "bot/test_big_push.py::test_poisoned_delivery_is_set_aside_after_three_attempts",
    ],
    2: [
        "bot/test_redact.py::test_outbox_warnings_on_429_500_404_never_show_the_token",
        "bot/test_redact.py::test_cli_logging_setup_installs_redaction",
        "hostile/test_secrets.py::test_the_secret_is_never_shown_after_it_is_given",
    ],
    3: [
        "formatters/test_render_escaping.py::test_masked_link_in_commit_message_is_not_a_link",
        "formatters/test_render_escaping.py::test_masked_link_in_branch_is_not_a_link",
        "formatters/test_render_escaping.py::test_none_prints_nothing",
        "hostile/test_text_injection.py::test_hostile_text_is_neutralised_in_embeds_and_templates",
    ],
    4: [
        "bot/test_console_sink.py::test_console_sink_prints_no_terminal_control_sequences",
        "hostile/test_text_injection.py::test_hostile_text_is_neutralised_in_embeds_and_templates",
    ],
    5: [
        "bot/test_server_hostile.py::test_gzip_header_on_a_body_that_is_not_gzip_is_400_and_counted",
        "hostile/test_transport.py::test_gzip_bodies",
    ],
    6: [
        "bot/test_server_hostile.py::test_malformed_request_is_400_with_one_info_line",
        "bot/test_server_hostile.py::test_malformed_request_flood_logs_one_line_per_period",
        "bot/test_server_hostile.py::test_client_leaving_mid_body_logs_one_info_line",
        "hostile/test_transport.py::test_huge_and_many_headers",
    ],
    7: [
        "bot/test_server_hostile.py::test_slow_headers_are_cut_off_and_counted",
        "bot/test_server_hostile.py::test_slow_body_gets_408_then_close_and_is_counted",
        "hostile/test_transport.py::test_slow_body_is_cut_off_at_the_body_timeout",
    ],
    8: ["bot/test_server.py::test_server_empty_event_header_is_400_like_a_missing_one"],
    9: [
        "e2e/test_startup_errors.py::test_db_in_missing_directory_is_one_line",
        "e2e/test_startup_errors.py::test_port_in_use_is_one_line",
    ],
    10: [
        "bot/test_cli_ux.py::test_format_reset_preview_changes_nothing",
        "bot/test_cli_ux.py::test_format_reset_says_exactly_what_it_removed",
        "bot/test_cli_ux.py::test_cli_wide_template_answer_and_info_agree",
    ],
    11: ["test_settings_docs.py::test_working_settings_are_not_marked"],
    12: [
        "bot/test_previous_tokens.py::test_second_rotate_keeps_the_first_old_token_until_its_grace_ends",
        "bot/test_cli_ux.py::test_mention_by_name_in_the_shell_says_to_use_the_role_id",
        "bot/test_cli_ux.py::test_logs_columns_align_and_sent_rows_have_a_kind",
        "bot/test_cli_ux.py::test_send_sample_unknown_name_lists_the_samples",
        "bot/test_cli_ux.py::test_format_does_not_import_the_server_or_discord",
    ],
}


@pytest.mark.parametrize("defect", sorted(REGRESSIONS))
def test_each_defect_of_issue_13_keeps_its_regression_tests(defect: int):
    for node in REGRESSIONS[defect]:
        path, name = node.split("::")
        source = (TESTS / path).read_text(encoding="utf-8")
        assert re.search(rf"^(async )?def {name}\(", source, re.MULTILINE), node
