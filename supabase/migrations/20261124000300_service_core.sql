-- The service's own functions for health and API keys.
--
-- Every function here is the service's (not the pub app's), so "create or replace" keeps it
-- current; all are security definer with a fixed search_path, callable by service_role only.

create or replace function public.service_health() returns text
language sql stable security definer set search_path = public, pg_temp as $$
  select 'ok'::text
$$;

-- Who a presented key (its sha256 hex) belongs to: null unless active and unexpired.
create or replace function public.api_key_authenticate(p_key_hash text) returns jsonb
language plpgsql volatile security definer set search_path = public, pg_temp as $$
declare
  k public.api_keys;
begin
  select * into k from public.api_keys
   where key_hash = p_key_hash
     and is_active
     and (expires_at is null or expires_at > now());
  if not found then
    return null;
  end if;
  -- last_used_at is for people, not for accounting: write it at most once a minute per key
  -- instead of on every request.
  if k.last_used_at is null or k.last_used_at < now() - interval '1 minute' then
    update public.api_keys set last_used_at = now() where id = k.id;
  end if;
  return jsonb_build_object(
    'id', k.id, 'name', k.name, 'permissions', coalesce(k.permissions, '[]'::jsonb),
    'rate_limit', k.rate_limit);
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

revoke execute on function public.service_health() from public, anon, authenticated;
revoke execute on function public.api_key_authenticate(text) from public, anon, authenticated;
revoke execute on function public.api_key_create(text, text, jsonb, integer, timestamptz, text)
  from public, anon, authenticated;
revoke execute on function public.api_key_ensure(text, text, jsonb) from public, anon, authenticated;
grant execute on function public.service_health() to service_role;
grant execute on function public.api_key_authenticate(text) to service_role;
grant execute on function public.api_key_create(text, text, jsonb, integer, timestamptz, text)
  to service_role;
grant execute on function public.api_key_ensure(text, text, jsonb) to service_role;
