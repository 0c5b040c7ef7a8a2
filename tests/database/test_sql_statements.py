from database.sql_statements import split_statements


def texts(sql: str) -> list[str]:
    return [s.text for s in split_statements(sql)]


def test_splits_on_semicolons_and_reports_start_lines():
    statements = split_statements("CREATE TABLE a (x int);\n\n-- note\nINSERT INTO a VALUES (1);\nSELECT 1")
    assert [s.text for s in statements] == ["CREATE TABLE a (x int)", "INSERT INTO a VALUES (1)", "SELECT 1"]
    assert [s.line for s in statements] == [1, 4, 5]


def test_semicolons_inside_strings_identifiers_and_comments_do_not_split():
    sql = """INSERT INTO t VALUES ('a;b', 'it''s; fine', E'esc\\';aped');
SELECT "odd;name" FROM t /* a; /* nested; */ comment; */ WHERE x = 1; -- trailing; comment
SELECT 2;"""
    assert texts(sql) == [
        "INSERT INTO t VALUES ('a;b', 'it''s; fine', E'esc\\';aped')",
        'SELECT "odd;name" FROM t /* a; /* nested; */ comment; */ WHERE x = 1',
        "SELECT 2",
    ]


def test_dollar_quoted_bodies_are_one_statement():
    sql = """DO $$
BEGIN
    PERFORM 1; PERFORM 2;
END
$$;
CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $body$ SELECT '$$;' $body$;
SELECT a$b FROM t"""
    statements = split_statements(sql)
    assert [s.line for s in statements] == [1, 6, 7]
    assert statements[0].text.endswith("END\n$$")
    assert statements[1].text == "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $body$ SELECT '$$;' $body$"
    assert statements[2].text == "SELECT a$b FROM t"


def test_comment_only_and_empty_pieces_are_dropped():
    assert texts("-- only a comment\n;;\n/* and this */\n") == []


def test_summary_flattens_and_truncates():
    statement = split_statements("SELECT\n    " + ", ".join(f"c{i}" for i in range(100)))[0]
    summary = statement.summary(width=40)
    assert len(summary) == 40 and summary.startswith("SELECT c0, c1") and summary.endswith("...")
