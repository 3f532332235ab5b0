/* analysis/checks.sql, built into the binary: `devirt check` installs its
 * views into the database it checks. NUL-terminated. */
	.section .rodata
	.global devirt_checks_sql
devirt_checks_sql:
	.incbin "analysis/checks.sql"
	.byte 0
	.section .note.GNU-stack, "", @progbits
