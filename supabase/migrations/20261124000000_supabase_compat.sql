-- Supabase compatibility layer.
--
-- A real Supabase project already has everything below. A plain PostgreSQL (Debian, or the
-- embedded pgserver) has none of it, yet the migrations that follow refer to these roles, the
-- auth schema, auth.users and auth.uid()/auth.role()/auth.jwt(). So each piece is created only
-- where it is missing, and nothing that exists is ever altered or replaced: on Supabase this file
-- is a no-op. Core PostgreSQL only (15+), no extensions. Safe to apply any number of times.

-- ---------------------------------------------------------------------------
-- Roles. Cluster-wide objects, so another database on the same server may already have made them.
-- service_role bypasses RLS, as on Supabase; none of the three can log in.
-- ---------------------------------------------------------------------------
do $compat$
begin
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
end
$compat$;

-- ---------------------------------------------------------------------------
-- Schema auth and a minimal auth.users (only the columns this service and its FKs need).
-- Checked through the catalogue rather than IF NOT EXISTS: on Supabase the schema belongs to
-- supabase_auth_admin and CREATE ... IF NOT EXISTS would still demand CREATE privilege first.
-- ---------------------------------------------------------------------------
do $compat$
begin
  if not exists (select 1 from pg_catalog.pg_namespace where nspname = 'auth') then
    create schema auth;
  end if;

  if pg_catalog.to_regclass('auth.users') is null then
    create table auth.users (
      id                 uuid primary key default gen_random_uuid(),
      email              text,
      raw_user_meta_data jsonb default '{}'::jsonb,
      created_at         timestamptz default now()
    );
  end if;
end
$compat$;

-- ---------------------------------------------------------------------------
-- auth.uid(), auth.role(), auth.jwt() with Supabase's semantics: the legacy per-claim setting
-- (request.jwt.claim.*) wins, else the claims JSON (request.jwt.claims). Outside a PostgREST
-- request both are unset and the functions return NULL. Created only when no function of that
-- name exists in schema auth; an existing one is never replaced. Left SECURITY INVOKER and without
-- a pinned search_path (as on Supabase) so RLS policies can inline them; they read only settings.
-- ---------------------------------------------------------------------------
do $compat$
begin
  if not exists (
    select 1 from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'auth' and p.proname = 'uid'
  ) then
    execute $fn$
      create function auth.uid() returns uuid
      language sql stable
      as $body$
        select coalesce(
          nullif(pg_catalog.current_setting('request.jwt.claim.sub', true), ''),
          nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'
        )::uuid
      $body$
    $fn$;
    execute 'grant execute on function auth.uid() to anon, authenticated, service_role';
  end if;

  if not exists (
    select 1 from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'auth' and p.proname = 'role'
  ) then
    execute $fn$
      create function auth.role() returns text
      language sql stable
      as $body$
        select coalesce(
          nullif(pg_catalog.current_setting('request.jwt.claim.role', true), ''),
          nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb ->> 'role'
        )::text
      $body$
    $fn$;
    execute 'grant execute on function auth.role() to anon, authenticated, service_role';
  end if;

  if not exists (
    select 1 from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'auth' and p.proname = 'jwt'
  ) then
    execute $fn$
      create function auth.jwt() returns jsonb
      language sql stable
      as $body$
        select coalesce(
          nullif(pg_catalog.current_setting('request.jwt.claim', true), ''),
          nullif(pg_catalog.current_setting('request.jwt.claims', true), '')
        )::jsonb
      $body$
    $fn$;
    execute 'grant execute on function auth.jwt() to anon, authenticated, service_role';
  end if;
end
$compat$;

-- ---------------------------------------------------------------------------
-- USAGE on public and auth for the three API roles, as Supabase grants it. Granted only when the
-- schema's ACL does not already name the role, so on Supabase (where it does, and where postgres
-- may hold no grant option on auth) nothing is issued and no warning is raised.
-- ---------------------------------------------------------------------------
do $compat$
declare
  v_schema text;
  v_role   text;
begin
  foreach v_schema in array array['public', 'auth'] loop
    foreach v_role in array array['anon', 'authenticated', 'service_role'] loop
      if not exists (
        select 1
        from pg_catalog.pg_namespace n,
             lateral pg_catalog.aclexplode(n.nspacl) a
        where n.nspname = v_schema
          and a.grantee = (select oid from pg_catalog.pg_roles where rolname = v_role)
          and a.privilege_type = 'USAGE'
      ) then
        execute format('grant usage on schema %I to %I', v_schema, v_role);
      end if;
    end loop;
  end loop;
end
$compat$;
