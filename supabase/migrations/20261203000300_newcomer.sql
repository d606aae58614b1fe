-- The outbox as the guest would read it (issue 18, item 4): `python -m app.cli outbox`.
--
-- table_booking_outbox keeps each message the worker recorded instead of sending (no Twilio or
-- Graph credentials): the text, the email's subject and plain text, and its attachments' names.
-- The attachments themselves (the .ics) are in the send_email job's payload, so they are read
-- from there while the job exists (the pub's app may clear old jobs: then the names remain).
-- Newest p_limit messages, optionally of one booking, returned oldest first.

create or replace function public.table_booking_outbox_read(
  p_reference text default null, p_limit integer default 20
) returns json
language sql stable security definer set search_path = public, pg_temp as $$
  select coalesce(json_agg(json_build_object(
           'channel', m.channel, 'recipient', m.recipient, 'subject', m.subject,
           'body', m.body, 'attachments', m.attachments, 'template_key', m.template_key,
           'booking_reference', m.booking_reference, 'created_at', m.created_at)
         order by m.created_at, m.id), '[]'::json)
  from (
    select o.id, o.channel, o.recipient, o.subject, o.body, o.template_key, o.created_at,
           b.booking_reference,
           case when jsonb_typeof(j.payload -> 'attachments') = 'array'
                then j.payload -> 'attachments' else o.attachments end as attachments
    from public.table_booking_outbox o
    left join public.table_bookings b on b.id = o.table_booking_id
    left join public.jobs j on j.id = o.job_id and o.channel = 'email'
    where p_reference is null or b.booking_reference = upper(trim(p_reference))
    order by o.created_at desc, o.id desc
    limit greatest(coalesce(p_limit, 20), 1)
  ) m
$$;

revoke execute on function public.table_booking_outbox_read(text, integer)
  from public, anon, authenticated;
grant execute on function public.table_booking_outbox_read(text, integer) to service_role;
