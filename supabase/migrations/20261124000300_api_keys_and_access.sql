-- The service's own functions for health, API keys (their hourly counts and rate limits) and
-- staff access (the pub's permissions).
--
-- Every function here is the service's (not the pub app's), so "create or replace" keeps it
-- current; all are security definer with a fixed search_path, callable by service_role only.

create table if not exists public.api_key_windows (
  key_id uuid not null references public.api_keys (id) on delete cascade,
  window_start timestamptz not null,
  base bigint not null,
  primary key (key_id, window_start)
);
alter table public.api_key_windows enable row level security;
revoke all on public.api_key_windows from anon, authenticated;

-- Function bodies are checked when called, not when made: each function is defined once,
-- in the file of its concern, in any order.
set local check_function_bodies = off;

create or replace function public.service_health() returns text
language sql stable security definer set search_path = public, pg_temp as $$
  select 'ok'::text
$$;

-- The key behind a presented hash, counted against its limits, in one round trip; null when the
-- key is unknown, inactive or expired. It writes only counters, so its commit does not wait for
-- the WAL flush: after a crash a few counts may be lost, which is harmless.
create or replace function public.api_key_authenticate(
  p_key_hash text,
  p_now timestamptz default now(),
  p_limits jsonb default '[]'::jsonb
) returns jsonb
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  k public.api_keys;
begin
  k := public.tb_key_lookup(p_key_hash, p_now);
  if k.id is null then
    return null;
  end if;
  perform set_config('synchronous_commit', 'off', true);
  return public.tb_key_count(k, p_now, p_limits);
end
$$;

create or replace function public.api_key_create(
  p_key_hash text,
  p_name text,
  p_permissions jsonb,
  p_rate_limit integer default 1000,
  p_expires_at timestamptz default null,
  p_description text default null
) returns jsonb
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  k public.api_keys;
begin
  if p_key_hash !~ '^[0-9a-f]{64}$' then
    raise exception using errcode = 'P0001', message = 'VALIDATION_ERROR',
      detail = 'The key hash must be 64 lowercase hex characters.';
  end if;
  if jsonb_typeof(p_permissions) <> 'array' or jsonb_array_length(p_permissions) = 0 then
    raise exception using errcode = 'P0001', message = 'VALIDATION_ERROR',
      detail = 'A key needs at least one scope.';
  end if;
  insert into public.api_keys (key_hash, name, description, permissions, rate_limit, expires_at)
  values (p_key_hash, p_name, p_description, p_permissions, p_rate_limit, p_expires_at)
  returning * into k;
  return jsonb_build_object(
    'id', k.id, 'name', k.name, 'permissions', k.permissions, 'rate_limit', k.rate_limit,
    'expires_at', k.expires_at);
end
$$;

-- BOOTSTRAP_API_KEY: the key with this hash exists, is active and holds at least these scopes.
create or replace function public.api_key_ensure(
  p_key_hash text,
  p_name text,
  p_permissions jsonb
) returns jsonb
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  k public.api_keys;
begin
  insert into public.api_keys (key_hash, name, permissions, is_active)
  values (p_key_hash, p_name, p_permissions, true)
  on conflict (key_hash) do update
    set is_active = true,
        permissions = (
          select coalesce(jsonb_agg(distinct s order by s), '[]'::jsonb)
          from (
            select jsonb_array_elements_text(coalesce(public.api_keys.permissions, '[]'::jsonb))
            union
            select jsonb_array_elements_text(excluded.permissions)
          ) as scopes(s)
        ),
        updated_at = now()
    where public.api_keys.is_active is distinct from true
       or not (coalesce(public.api_keys.permissions, '[]'::jsonb) @> excluded.permissions)
  returning * into k;
  if k.id is null then
    select * into k from public.api_keys where key_hash = p_key_hash;
  end if;
  return jsonb_build_object('id', k.id, 'name', k.name, 'permissions', k.permissions);
end
$$;

create or replace function public.tb_rate_hit(
  p_bucket text,
  p_limit integer,
  p_window_seconds integer,
  p_now timestamptz,
  out allowed boolean,
  out hit_limit integer,
  out remaining integer,
  out reset_at timestamptz
)
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  v_start timestamptz := to_timestamp(
    floor(extract(epoch from p_now) / p_window_seconds) * p_window_seconds);
  v_hits integer;
begin
  insert into public.api_rate_counters as c (bucket, window_start, hits)
  values (p_bucket, v_start, 1)
  on conflict (bucket, window_start) do update set hits = c.hits + 1
  returning c.hits into v_hits;
  allowed := v_hits <= p_limit;
  hit_limit := p_limit;
  remaining := greatest(p_limit - v_hits, 0);
  reset_at := v_start + make_interval(secs => p_window_seconds);
end
$$;

-- Staff permissions: super_admin may do everything; others need table_bookings:<action>.
-- Staff may do what the pub's own permissions (module table_bookings) let them do, no more: each
-- action of this service maps onto the permission the pub defines for it. view, create as named;
-- edit (change, status, start a payment) and cancel are the pub's "edit" (its FOH actions) or
-- "manage" (full management); choosing a refund is the pub's "refund" (super_admin only there).
create or replace function public.staff_has_permission(p_user_id uuid, p_action text)
returns boolean
language sql stable security definer set search_path = public, pg_temp as $$
  select coalesce(bool_or(public.user_has_permission(p_user_id, 'table_bookings', a)), false)
  from unnest(case p_action
                when 'view' then array['view']
                when 'create' then array['create']
                when 'edit' then array['edit', 'manage']
                when 'cancel' then array['edit', 'manage']
                when 'refund' then array['refund']
                else array[]::text[] end) a
$$;

-- API keys: the lookup and the counting, apart, so that a keyed request can do its work
-- between them in one call. api_key_authenticate is the two together, as before.
create or replace function public.tb_key_lookup(p_key_hash text, p_now timestamptz)
returns public.api_keys
language sql stable security definer set search_path = public, pg_temp as $$
  select * from public.api_keys
  where key_hash = p_key_hash and is_active and (expires_at is null or expires_at > p_now)
$$;

-- the key's hourly count from tb_key_hits instead of the
-- sharded counter rows; everything else as it was.
create or replace function public.tb_key_count(k public.api_keys, p_now timestamptz, p_limits jsonb)
returns jsonb
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  v_limit integer := coalesce(k.rate_limit, 1000);
  h record;
  x record;
  lim jsonb;
  v_reset timestamptz;
  v_limited jsonb;
begin
  -- last_used_at is for people, not accounting: written at most once a minute per key.
  if k.last_used_at is null or k.last_used_at < p_now - interval '1 minute' then
    update public.api_keys set last_used_at = p_now where id = k.id;
  end if;
  select * into h from public.tb_key_hits(k.id, 3600, p_now);
  v_reset := h.started + interval '1 hour';
  if h.hits > v_limit then
    v_limited := jsonb_build_object('scope', 'api_key', 'reset_at', v_reset);
  end if;
  for i in 0 .. coalesce(jsonb_array_length(p_limits), 0) - 1 loop
    exit when v_limited is not null;
    lim := p_limits -> i;
    select * into x from public.tb_rate_hit(lim ->> 'bucket', (lim ->> 'limit')::int,
                                            (lim ->> 'window_seconds')::int, p_now);
    if not x.allowed then
      v_limited := jsonb_build_object('scope', lim ->> 'bucket', 'reset_at', x.reset_at);
    end if;
  end loop;
  return jsonb_build_object(
    'id', k.id, 'name', k.name, 'permissions', coalesce(k.permissions, '[]'::jsonb),
    'rate_limit', jsonb_build_object('limit', v_limit,
                                     'remaining', greatest(v_limit - h.hits, 0),
                                     'reset_at', v_reset),
    'limited', v_limited);
end
$$;

-- Whether API key permissions allow a scope: '*' allows everything, 'manage:<resource>' every
-- scope on that resource. The same rule as app.services.api_keys.scope_allows (a test holds the
-- two to the same table of cases).
create or replace function public.tb_scope_allows(p_permissions jsonb, p_scope text)
returns boolean
language sql immutable set search_path = pg_catalog, pg_temp as $$
  select coalesce(p_permissions, '[]'::jsonb) ? '*'
         or coalesce(p_permissions, '[]'::jsonb) ? p_scope
         or coalesce(p_permissions, '[]'::jsonb) ? ('manage:' || split_part(p_scope, ':', 2))
$$;

-- Hits of key p_key_id in the window of p_window_seconds that holds p_now, this one included,
-- and when that window started.
create or replace function public.tb_key_hits(
  p_key_id uuid, p_window_seconds integer, p_now timestamptz,
  out hits bigint, out started timestamptz
)
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  v_name text := 'public.api_key_hits_' || replace(p_key_id::text, '-', '');
  v_seq regclass := to_regclass(v_name);
  v_value bigint;
  v_base bigint;
begin
  started := to_timestamp(floor(extract(epoch from p_now) / p_window_seconds)
                     * p_window_seconds);
  if v_seq is null then
    begin
      execute format('create sequence if not exists %s', v_name);
    exception when unique_violation or duplicate_table then
      null;  -- made at the same moment by another request
    end;
    v_seq := v_name::regclass;
  end if;
  v_value := nextval(v_seq);
  select w.base into v_base from public.api_key_windows w
   where w.key_id = p_key_id and w.window_start = started;
  if not found then
    -- The hour's first requests: the start is the lowest number any of them drew.
    insert into public.api_key_windows as w (key_id, window_start, base)
    values (p_key_id, started, v_value - 1)
    on conflict (key_id, window_start) do update set base = least(w.base, excluded.base)
    returning w.base into v_base;
    -- Windows of past days are of no use to anyone: the hour's first request clears them.
    delete from public.api_key_windows w
     where w.key_id = p_key_id and w.window_start < started - interval '1 day';
  end if;
  hits := v_value - v_base;
end
$$;

-- Every function of this file: executable by service_role only.
select table_booking_service.service_role_only(array[
  'public.service_health',
  'public.api_key_authenticate',
  'public.api_key_create',
  'public.api_key_ensure',
  'public.tb_rate_hit',
  'public.staff_has_permission',
  'public.tb_key_lookup',
  'public.tb_key_count',
  'public.tb_scope_allows',
  'public.tb_key_hits'
]);
