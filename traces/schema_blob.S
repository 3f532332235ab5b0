/* traces/schema.sql, built into the binary so a database can be created
 * anywhere without the source tree. NUL-terminated. */
	.section .rodata
	.global devirt_schema_sql
devirt_schema_sql:
	.incbin "traces/schema.sql"
	.byte 0
	.section .note.GNU-stack, "", @progbits
