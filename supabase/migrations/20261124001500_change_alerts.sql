-- A change to what the kitchen and the floor need to know is announced like a change of date,
-- time or party size: a guest who adds an allergy, or changes their special requirements,
-- dietary needs or celebration, gets the "booking changed" message and the staff get the alert
-- (with ALLERGIES in its subject when there are any). Before, only the date, time and party
-- size did.

-- From 20261124000700_messages.sql: the requirements added to the "updated" condition.
create or replace function public.tb_notify_booking_change() returns trigger
language plpgsql security definer set search_path = public, pg_temp as $$
begin
  if new.manage_token_hash is null then
    return new;
  end if;
  if tg_op = 'INSERT' then
    perform public.tb_queue_notification(new.id, 'created');
  elsif new.status is distinct from old.status then
    if new.status = 'confirmed' and old.status = 'pending_payment' then
      perform public.tb_queue_notification(new.id, 'confirmed');
    elsif new.status = 'cancelled' then
      perform public.tb_queue_notification(new.id, 'cancelled');
    end if;
  elsif new.status in ('confirmed', 'pending_payment')
        and ((new.booking_date, new.booking_time, new.party_size)
               is distinct from (old.booking_date, old.booking_time, old.party_size)
             or (new.special_requirements, new.dietary_requirements, new.allergies,
                 new.celebration_type)
               is distinct from (old.special_requirements, old.dietary_requirements,
                                 old.allergies, old.celebration_type)) then
    perform public.tb_queue_notification(new.id, 'updated',
                                         coalesce(new.modification_count, 0)::text
                                         || ':' || to_char(new.updated_at, 'YYYYMMDDHH24MISSUS'));
  end if;
  return new;
end
$$;
