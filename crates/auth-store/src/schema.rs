//! The Diesel schema, shared by both backends: only types both have.
diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        email -> Nullable<Text>,
        password_hash -> Nullable<Text>,
        given_name -> Nullable<Text>,
        family_name -> Nullable<Text>,
        disabled -> Bool,
        created_at -> Timestamp,
        token_generation -> Integer,
        email_verified -> Bool,
        version -> BigInt,
        updated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    email_links (digest) {
        digest -> Binary,
        purpose -> Text,
        user_id -> Text,
        address -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    mail_outbox (id) {
        id -> Text,
        sealed -> Text,
        created_at -> Timestamp,
        next_attempt_at -> Timestamp,
        attempts -> Integer,
    }
}

diesel::table! {
    clients (id) {
        id -> Text,
        name -> Text,
        secret_digest -> Nullable<Binary>,
        redirect_uris -> Text,
        grant_types -> Text,
        scope -> Text,
        access_token_ttl_secs -> Nullable<BigInt>,
        refresh_mode -> Nullable<Text>,
        created_at -> Timestamp,
        first_party -> Bool,
        legacy_token_redirect -> Bool,
        allow_plain_pkce -> Bool,
        token_format -> Text,
        audiences -> Text,
        dialects -> Text,
        id_token_algorithm -> Nullable<Text>,
        post_logout_redirect_uris -> Text,
        allowed_origins -> Nullable<Text>,
        require_verified_email -> Bool,
        mfa -> Text,
        allowed_groups -> Text,
        admin -> Bool,
        version -> BigInt,
    }
}

diesel::table! {
    refresh_tokens (digest) {
        digest -> Binary,
        family_id -> Text,
        client_id -> Text,
        user_id -> Nullable<Text>,
        scope -> Text,
        issued_at -> Timestamp,
        expires_at -> Timestamp,
        rotated_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        family_expires_at -> Timestamp,
        parent_digest -> Nullable<Binary>,
        successor_digest -> Nullable<Binary>,
        superseded_at -> Nullable<Timestamp>,
        access_token_id -> Nullable<Text>,
        access_expires_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    revoked_access_tokens (token_id) {
        token_id -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    signing_keys (key_id) {
        key_id -> Text,
        public_paserk -> Text,
        secret_paserk -> Text,
        created_at -> Timestamp,
        activates_at -> Nullable<Timestamp>,
        algorithm -> Text,
    }
}

diesel::table! {
    authorization_codes (digest) {
        digest -> Binary,
        client_id -> Text,
        user_id -> Text,
        redirect_uri -> Text,
        scope -> Text,
        code_challenge -> Nullable<Text>,
        code_challenge_method -> Nullable<Text>,
        issued_at -> Timestamp,
        expires_at -> Timestamp,
        consumed_at -> Nullable<Timestamp>,
        issued_family_id -> Nullable<Text>,
        issued_access_token_id -> Nullable<Text>,
        issued_access_expires_at -> Nullable<Timestamp>,
        nonce -> Nullable<Text>,
        auth_time -> Nullable<Timestamp>,
        amr -> Text,
    }
}

diesel::table! {
    consents (user_id, client_id) {
        user_id -> Text,
        client_id -> Text,
        scope -> Text,
        granted_at -> Timestamp,
    }
}

diesel::table! {
    known_devices (digest, user_id) {
        digest -> Binary,
        user_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    sessions (digest) {
        digest -> Binary,
        user_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        last_seen_at -> Timestamp,
        user_agent -> Nullable<Text>,
        address -> Nullable<Text>,
        signed_in_with -> Nullable<Text>,
        amr -> Text,
    }
}

diesel::table! {
    access_tokens (digest) {
        digest -> Binary,
        token_id -> Text,
        client_id -> Text,
        subject -> Text,
        scope -> Text,
        issued_at -> Timestamp,
        expires_at -> Timestamp,
        family_id -> Nullable<Text>,
        generation -> Integer,
    }
}

diesel::table! {
    device_authorizations (device_digest) {
        device_digest -> Binary,
        user_code_digest -> Binary,
        client_id -> Text,
        scope -> Text,
        issued_at -> Timestamp,
        expires_at -> Timestamp,
        poll_interval -> BigInt,
        last_polled_at -> Nullable<Timestamp>,
        status -> Text,
        user_id -> Nullable<Text>,
    }
}

diesel::table! {
    throttle_counters (kind, subject_kind, subject, address, device) {
        kind -> Text,
        subject_kind -> Text,
        subject -> Text,
        address -> Text,
        device -> Text,
        attempts -> BigInt,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    login_names (name) {
        name -> Text,
        user_id -> Text,
        skeleton -> Nullable<Text>,
    }
}

diesel::table! {
    federated_identities (provider, subject) {
        provider -> Text,
        subject -> Text,
        user_id -> Text,
        created_at -> Timestamp,
        login -> Nullable<Text>,
    }
}

diesel::table! {
    upstream_flows (id) {
        id -> Text,
        provider -> Text,
        user_id -> Nullable<Text>,
        poll_interval_secs -> Nullable<BigInt>,
        next_poll_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::joinable!(refresh_tokens -> clients (client_id));
diesel::joinable!(federated_identities -> users (user_id));
diesel::joinable!(refresh_tokens -> users (user_id));
diesel::joinable!(login_names -> users (user_id));
diesel::joinable!(email_links -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(
    users,
    email_links,
    login_names,
    federated_identities,
    upstream_flows,
    clients,
    refresh_tokens,
    revoked_access_tokens,
    signing_keys
);

diesel::table! {
    second_factors (id) {
        id -> Text,
        user_id -> Text,
        kind -> Text,
        label -> Text,
        secret -> Nullable<Text>,
        credential_id -> Nullable<Text>,
        record -> Nullable<Text>,
        counter -> BigInt,
        confirmed -> Bool,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    recovery_codes (digest) {
        digest -> Binary,
        user_id -> Text,
    }
}

diesel::table! {
    webauthn_ceremonies (digest) {
        digest -> Binary,
        purpose -> Text,
        user_id -> Nullable<Text>,
        state -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    webauthn_handles (user_id) {
        user_id -> Text,
        handle -> Text,
    }
}

diesel::table! {
    user_groups (id) {
        id -> Text,
        name -> Text,
        description -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    group_members (group_id, user_id) {
        group_id -> Text,
        user_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(group_members -> user_groups (group_id));
diesel::allow_tables_to_appear_in_same_query!(user_groups, group_members);
