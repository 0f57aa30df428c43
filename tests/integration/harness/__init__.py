"""What the integration scripts share (a folder, so ctest does not run it as a test; each script
puts tests/integration on sys.path and imports harness.<module>):
- paths: the build and fixtures dirs, a private scratch dir
- daemon_run: one fcpmaild driven through the CLI (on its embedded node or a separate fcpmail-sim),
  plus a raw Freemail peer (node_put, node_get, mallory_rts)
- daemon_set: several fcpmaild/fcpmail-sim side by side; stop_process
- cli_session: wait_for_control, imap_inbox, CliSession (create, send, requests)
- clients: the clients_* fixture daemon with alice and bob (and carol, a stranger writing to alice),
  Http, wait_for, run_main
- abuse: what the abuse_* tests add to it (resident memory, a normal IMAP/SMTP session)
- node_faults: fcpmaild on a separate fcpmail-sim that can be killed and made to misbehave
- imap_testserver: imap-testserver for the imaplib tests; lines: a raw CRLF line client
- script.sh, imap_start.sh: what the shell tests source"""
