-- An API key's hourly count without a hot row.
--
-- Every request of the website's key updated one of eight counter rows and read the other seven
-- (tb_rate_hit_sharded): a new row version per request on one heap page, and every reader walked
-- the versions (measured in bench/README.md: about 0.3 ms of PostgreSQL per create). Now each key
-- counts on its own sequence, public.api_key_hits_<id without dashes>: nextval is atomic, writes
-- no row version and logs once per 32 values. An hour's count is the sequence's value minus the
-- value it had when the hour began, which the hour's first request records in api_key_windows
-- (one row per key and hour, written by the hour's first requests, then only read).
--
-- Every request is counted, also one that is then refused or rolled back, and within an hour the
-- count is exact: a burst gets exactly the limit through (the shards let through as many more as
-- were in flight). At the turn of the hour, a request of the old hour that draws its number
-- after the new hour began counts the new hour's first requests too (it may be refused a little
-- early), and while the new hour's first requests race to record its start, one may see a count
-- lower by those in flight; the recorded start is the lowest number they drew.
--
-- The sequence is made by the key's first counted request (api_keys is the pub's table: no
-- trigger is added to it). A key that is deleted leaves its sequence, a few bytes, behind.

create table if not exists public.api_key_windows (
  key_id uuid not null references public.api_keys (id) on delete cascade,
  window_start timestamptz not null,
  base bigint not null,
  primary key (key_id, window_start)
);
alter table public.api_key_windows enable row level security;
revoke all on public.api_key_windows from anon, authenticated;

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

-- From 20261124001000_fast_paths.sql: the key's hourly count from tb_key_hits instead of the
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

-- The sharded counter is no longer used.
drop function if exists public.tb_rate_hit_sharded(text, integer, integer, timestamptz);

revoke execute on function public.tb_key_hits(uuid, integer, timestamptz)
  from public, anon, authenticated;
