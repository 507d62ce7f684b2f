-- matbakh.app's application schema as Supabase (PostgreSQL 15) holds it: the tables that spec 1 names
-- (user_profiles, onboarding_progress, communication_prefs) and those the star schema of spec 4 reads
-- (accounts, locations, visibility_checks, oauth_logins). `mdp seed` writes daily exports of exactly
-- these columns (COPY ... TO STDOUT WITH (FORMAT csv, HEADER), rows changed that day, UTC), the
-- supabase connector reads them, and the tests load them into a real PostgreSQL with this file.
-- Every table has updated_at (or created_at for append-only ones) for incremental extraction.

create table if not exists public.accounts (
  account_id     uuid primary key,                 -- UUIDv7
  business_name  text not null,
  main_category  text,                             -- GBP category id, e.g. 'gcid:italian_restaurant'
  price_range    text check (price_range in ('€', '€€', '€€€', '€€€€')),
  is_active      boolean not null default true,
  created_at     timestamptz not null default now(),
  updated_at     timestamptz not null default now()
);

create table if not exists public.user_profiles (
  user_id        uuid primary key,                 -- UUIDv7
  account_id     uuid references public.accounts (account_id),
  email          text not null,                    -- PII
  name           text,                             -- PII
  persona        text,                             -- solo-sarah | bewahrer-ben | wachstums-walter | ketten-katrin
  preferences    jsonb not null default '{}'::jsonb,
  settings       jsonb not null default '{}'::jsonb,
  is_active      boolean not null default true,
  signup_at      timestamptz not null,
  last_login_at  timestamptz,
  created_at     timestamptz not null default now(),
  updated_at     timestamptz not null default now()
);

create table if not exists public.communication_prefs (
  user_id        uuid primary key references public.user_profiles (user_id) on delete cascade,
  tone           text check (tone in ('encouraging', 'facts', 'brief')),
  address        text check (address in ('sie', 'du', 'neutral')),
  help_level     text check (help_level in ('minimal', 'standard', 'detailed')),
  updated_at     timestamptz not null default now()
);

create table if not exists public.onboarding_progress (
  progress_id       uuid primary key,              -- UUIDv7 of the step attempt
  user_id           uuid not null references public.user_profiles (user_id) on delete cascade,
  account_id        uuid references public.accounts (account_id),
  step_id           text not null,
  completion_status text not null check (completion_status in ('started', 'completed', 'skipped', 'abandoned')),
  started_at        timestamptz not null,
  completed_at      timestamptz,
  duration_seconds  integer,
  updated_at        timestamptz not null default now()
);

create table if not exists public.locations (
  location_id    uuid primary key,                 -- UUIDv7
  account_id     uuid not null references public.accounts (account_id),
  address        text,
  city           text,
  country        text,                             -- ISO 3166-1 alpha-2
  gbp_place_id   text,
  latitude       numeric(10, 8),
  longitude      numeric(11, 8),
  created_at     timestamptz not null default now(),
  updated_at     timestamptz not null default now()
);

create table if not exists public.visibility_checks (
  check_id                uuid primary key,        -- UUIDv7
  user_id                 uuid not null references public.user_profiles (user_id) on delete cascade,
  account_id              uuid not null references public.accounts (account_id),
  location_id             uuid references public.locations (location_id),
  overall_score           integer check (overall_score between 0 and 100),
  gbp_score               integer check (gbp_score between 0 and 100),
  social_score            integer check (social_score between 0 and 100),
  web_score               integer check (web_score between 0 and 100),
  competitor_count        integer,
  processing_time_seconds integer,
  created_at              timestamptz not null default now(),
  updated_at              timestamptz not null default now()
);

create table if not exists public.oauth_logins (
  event_id       uuid primary key,                 -- UUIDv7
  user_id        uuid references public.user_profiles (user_id) on delete set null,
  provider       text not null check (provider in ('google', 'facebook')),
  success        boolean not null,
  error_code     text,
  created_at     timestamptz not null default now()
);
