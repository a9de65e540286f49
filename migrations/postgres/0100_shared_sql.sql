-- SQLite's JSON functions that the statements written once for both
-- backends use (src/db/mod.rs: `for_postgres` lists what is spelled apart
-- instead). With these, a list of ids bound as one JSON text parameter,
-- and the JSON a page view or a method list is built with in one
-- statement, read the same on PostgreSQL.

-- `SELECT value FROM json_each($1)`: the elements of a JSON array, as text.
CREATE FUNCTION json_each(list text) RETURNS TABLE (value text)
    LANGUAGE sql IMMUTABLE STRICT
    AS $$ SELECT json_array_elements_text(list::json) $$;

-- `json_array_length($1)`, as bigint (what Rust reads counts as).
CREATE FUNCTION json_array_length(list text) RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT
    AS $$ SELECT pg_catalog.json_array_length(list::json)::bigint $$;

-- `json_group_array(x)`: a JSON array of every x, `[]` for no rows (where
-- PostgreSQL's json_agg gives NULL).
CREATE FUNCTION cafe_json_push(state jsonb, item anyelement) RETURNS jsonb
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT state || jsonb_build_array(item) $$;
CREATE AGGREGATE json_group_array(anyelement) (
    SFUNC = cafe_json_push, STYPE = jsonb, INITCOND = '[]'
);

-- `json_group_object(key, value)`: a JSON object, `{}` for no rows.
CREATE FUNCTION cafe_json_put(state jsonb, key text, item anyelement) RETURNS jsonb
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT CASE WHEN key IS NULL THEN state ELSE state || jsonb_build_object(key, item) END $$;
CREATE AGGREGATE json_group_object(text, anyelement) (
    SFUNC = cafe_json_put, STYPE = jsonb, INITCOND = '{}'
);
