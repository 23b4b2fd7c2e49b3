-- A command is still rendered once, as it is queued (migration 008), but by the statement that
-- queues it (db/outbox.c) rather than by a row trigger: the trigger was a PL/pgSQL call per
-- command, about a fifth of the cost of inserting a group's commands.

DROP TRIGGER commands_render ON commands;
DROP FUNCTION callbackd_commands_render();
