-- 0008_hook_options: a hook's options for its service (DESIGN "Services"), as JSON: what
-- `parse(headers, body, options)` and `verify` are given, e.g. a custom hook's field
-- paths or whether an unsigned post is accepted.
ALTER TABLE hooks ADD COLUMN options TEXT NOT NULL DEFAULT '{}';
