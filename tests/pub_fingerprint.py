"""A fingerprint of everything in a database, to prove our migrations only add to the pub's.

``fingerprint(conn)`` reads every object (schemas, relations, columns, constraints, indexes,
triggers, rules, policies, functions with their bodies and grants, types, sequences, default
privileges, comments, extensions, publications) and a hash of every table's rows, keyed so that
two fingerprints can be compared object by object. ``changes(before, after)`` lists what was
removed or altered; ``additions(before, after)`` what was added, for the rules on what may be.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg

_SCHEMAS = """
    n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')
    and n.nspname not like 'pg_temp%' and n.nspname not like 'pg_toast_temp%'"""

#: category -> a query of (key, definition) rows. Keys are text; definitions compare as text.
_RAW_QUERIES: dict[str, str] = {
    "schema": """
        select n.nspname, coalesce(n.nspacl::text, '') from pg_namespace n where <schemas>""",
    "relation": """
        select n.nspname || '.' || c.relname,
               concat_ws('|', c.relkind, c.relrowsecurity, c.relforcerowsecurity, c.relacl::text,
                         c.reloptions::text, pg_get_viewdef(c.oid))
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where <schemas> and c.relkind in ('r', 'v', 'm', 'p', 'f', 'S')""",
    "column": """
        select n.nspname || '.' || c.relname || '.' || a.attname,
               concat_ws('|', format_type(a.atttypid, a.atttypmod), a.attnotnull::text,
                         coalesce(pg_get_expr(d.adbin, d.adrelid), ''), a.attidentity,
                         a.attgenerated, coalesce(a.attacl::text, ''), a.attcollation)
        from pg_attribute a join pg_class c on c.oid = a.attrelid
        join pg_namespace n on n.oid = c.relnamespace
        left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
        where <schemas> and c.relkind in ('r', 'v', 'm', 'p', 'f') and a.attnum > 0
          and not a.attisdropped""",
    "constraint": """
        select n.nspname || '.' || coalesce(c.relname, t.typname) || '.' || k.conname,
               pg_get_constraintdef(k.oid) || '|' || k.convalidated
        from pg_constraint k join pg_namespace n on n.oid = k.connamespace
        left join pg_class c on c.oid = k.conrelid left join pg_type t on t.oid = k.contypid
        where <schemas>""",
    "index": """
        select n.nspname || '.' || c.relname, pg_get_indexdef(c.oid)
        from pg_index i join pg_class c on c.oid = i.indexrelid
        join pg_namespace n on n.oid = c.relnamespace where <schemas>""",
    "trigger": """
        select n.nspname || '.' || c.relname || '.' || t.tgname,
               pg_get_triggerdef(t.oid) || '|' || t.tgenabled::text
        from pg_trigger t join pg_class c on c.oid = t.tgrelid
        join pg_namespace n on n.oid = c.relnamespace where not t.tgisinternal and <schemas>""",
    "rule": """
        select schemaname || '.' || tablename || '.' || rulename, definition from pg_rules
        where schemaname not in ('pg_catalog', 'information_schema')""",
    "policy": """
        select schemaname || '.' || tablename || '.' || policyname,
               concat_ws('|', permissive, roles::text, cmd, qual, with_check) from pg_policies""",
    "function": """
        select n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid)
               || ')',
               concat_ws('|', md5(case when p.prokind in ('a', 'w') then p.proname
                                  else pg_get_functiondef(p.oid) end),
                         p.proacl::text, p.proowner::regrole::text)
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace where <schemas>""",
    "type": """
        select n.nspname || '.' || t.typname,
               concat_ws('|', t.typtype, t.typacl::text,
                 (select string_agg(e.enumlabel, ',' order by e.enumsortorder)
                  from pg_enum e where e.enumtypid = t.oid),
                 (select string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ','
                                    order by a.attnum)
                  from pg_attribute a where a.attrelid = t.typrelid and t.typtype = 'c'
                    and a.attnum > 0),
                 case when t.typtype = 'd' then format_type(t.typbasetype, t.typtypmod) end)
        from pg_type t join pg_namespace n on n.oid = t.typnamespace
        where <schemas> and t.typtype in ('e', 'c', 'd')
          and (t.typrelid = 0 or (select relkind from pg_class where oid = t.typrelid) = 'c')""",
    "sequence": """
        select n.nspname || '.' || c.relname,
               concat_ws('|', s.seqtypid::regtype::text, s.seqstart, s.seqincrement, s.seqmax,
                         s.seqmin, s.seqcycle)
        from pg_sequence s join pg_class c on c.oid = s.seqrelid
        join pg_namespace n on n.oid = c.relnamespace where <schemas>""",
    "default_acl": """
        select coalesce(d.defaclnamespace::regnamespace::text, '') || '.'
               || d.defaclrole::regrole::text || '.' || d.defaclobjtype::text,
               d.defaclacl::text from pg_default_acl d""",
    "comment": """
        select d.classoid::regclass::text || '.' || d.objoid || '.' || d.objsubid, d.description
        from pg_description d
        where d.classoid in ('pg_class'::regclass, 'pg_proc'::regclass, 'pg_type'::regclass)
          and exists (select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace
                      where c.oid = d.objoid and <schemas>
                      union all
                      select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                      where p.oid = d.objoid and <schemas>)""",
    "extension": "select extname, extversion from pg_extension",
    "publication": """
        select p.pubname || '.' || coalesce(pt.schemaname || '.' || pt.tablename, ''),
               concat_ws('|', p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete)
        from pg_publication p left join pg_publication_tables pt on pt.pubname = p.pubname""",
    "event_trigger": "select evtname, evtevent || '|' || evtenabled::text from pg_event_trigger",
}
QUERIES = {name: sql.replace("<schemas>", _SCHEMAS) for name, sql in _RAW_QUERIES.items()}
_TABLES_QUERY = """
    select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.relkind in ('r', 'p') and <schemas>""".replace("<schemas>", _SCHEMAS)

#: The pub's RBAC grant tables and the Supabase CLI's history: we add no rows to them.
NO_NEW_ROWS = (
    "public.roles",
    "public.permissions",
    "public.role_permissions",
    "public.user_roles",
    "supabase_migrations.schema_migrations",
)


@dataclass
class Fingerprint:
    objects: dict[str, dict[str, str]] = field(default_factory=dict)
    #: table -> (its columns at the time, the md5 of each row over those columns)
    rows: dict[str, tuple[list[str], frozenset[str]]] = field(default_factory=dict)


async def fingerprint(
    conn: asyncpg.Connection, *, columns_of: Fingerprint | None = None
) -> Fingerprint:
    """Everything in the database; rows hashed over ``columns_of``'s columns where given."""
    result = Fingerprint()
    for category, sql in QUERIES.items():
        rows = await conn.fetch(sql)
        result.objects[category] = {str(r[0]): str(r[1]) for r in rows}
    tables = await conn.fetch(_TABLES_QUERY)
    for table in tables:
        name = f"{table['nspname']}.{table['relname']}"
        if columns_of is not None and name in columns_of.rows:
            cols = columns_of.rows[name][0]
        else:
            cols = [
                r["attname"]
                for r in await conn.fetch(
                    "select attname from pg_attribute where attrelid = $1::regclass"
                    " and attnum > 0 and not attisdropped order by attnum",
                    f'"{table["nspname"]}"."{table["relname"]}"',
                )
            ]
        quoted = ", ".join(f'"{c}"' for c in cols)
        table_sql = f'"{table["nspname"]}"."{table["relname"]}"'
        digests = await conn.fetch(
            f"select md5(r::text) as h from (select {quoted} from {table_sql}) r"  # noqa: S608
        )
        result.rows[name] = (cols, frozenset(str(d["h"]) for d in digests))
    return result


def changes(before: Fingerprint, after: Fingerprint) -> list[str]:
    """What of ``before`` is gone or different in ``after`` (objects and rows)."""
    found = []
    for category, objects in before.objects.items():
        later = after.objects.get(category, {})
        for key, definition in objects.items():
            if key not in later:
                found.append(f"{category} removed: {key}")
            elif later[key] != definition:
                found.append(f"{category} changed: {key}: {definition!r} -> {later[key]!r}")
    for table, (_cols, digests) in before.rows.items():
        if table not in after.rows:
            found.append(f"rows: table gone: {table}")
            continue
        later_rows = after.rows[table][1]
        if gone := len(digests - later_rows):
            found.append(f"rows changed or removed: {table}: {gone} of {len(digests)}")
        if table in NO_NEW_ROWS and (new := len(later_rows - digests)):
            found.append(f"rows added to {table}: {new}")
    return found


def additions(before: Fingerprint, after: Fingerprint) -> dict[str, list[str]]:
    """category -> the keys that ``after`` has and ``before`` had not."""
    added: dict[str, list[str]] = {}
    for category, objects in after.objects.items():
        earlier = before.objects.get(category, {})
        new = sorted(k for k in objects if k not in earlier)
        if new:
            added[category] = new
    return added


def rows_added(before: Fingerprint, after: Fingerprint) -> dict[str, int]:
    """table -> how many rows of the pub's tables ``after`` has that ``before`` had not."""
    return {
        table: len(after.rows[table][1] - digests)
        for table, (_c, digests) in before.rows.items()
        if table in after.rows and after.rows[table][1] - digests
    }


def describe(value: Any) -> str:
    return "\n".join(str(v) for v in value)
