//! Accounts: registration, login, profile, password.

use atelier_domain::Invalid;
use atelier_domain::identity::{Email, check_name, check_new_password, check_phone};
use atelier_domain::ids::UserId;

use crate::sessions;
use crate::user_event;
use crate::{
    AuthSettings, Credentials, MembershipView, PasswordChange, ProfileChanges, Registration, SignedIn,
    UserRecord, UserView, email_key, user_key,
};
use atelier_notifications::{Notice, Recipient, Topic, notice_event};
use atelier_platform::access::{Authenticated, UserProfile};
use atelier_platform::access::{Membership, memberships_partition};
use atelier_platform::audit::{self, AuditEvent, RequestMeta};
use atelier_platform::error::CHANGED_MEANWHILE;
use atelier_platform::outbox;
use atelier_platform::store::{Condition, Index, Item, Query, StoreError, UpdateAction, Value, WriteOp};
use atelier_platform::{AppError, Platform, rate_limit};

/// The one answer to every failed login, whether or not the email exists.
const LOGIN_FAILED: &str = "invalid email or password";

pub(crate) async fn memberships(
    platform: &Platform,
    user_id: &UserId,
) -> Result<Vec<MembershipView>, AppError> {
    let query = Query::partition(memberships_partition(user_id)).on(Index::Gsi1);
    let items = platform.store.query_all(query, 1000).await?;
    items
        .iter()
        .map(|item| {
            let m: Membership = item.to_record()?;
            Ok(MembershipView { studio_id: m.studio_id, role: m.role })
        })
        .collect()
}

/// Creates an account and signs it in. The email is reserved by a conditional write in the
/// same transaction as the user, so concurrent registrations of one email make one account.
pub async fn register(
    platform: &Platform,
    settings: &AuthSettings,
    meta: &RequestMeta,
    request: Registration,
) -> Result<SignedIn, AppError> {
    let mut errors = Invalid::default();
    let email = Email::parse(&request.email, "email").map_err(|e| errors.0.extend(e.0)).ok();
    let name = check_name(&request.name, "name").map_err(|e| errors.0.extend(e.0)).ok();
    let phone = match &request.phone {
        Some(p) => check_phone(p, "phone").map_err(|e| errors.0.extend(e.0)).ok(),
        None => None,
    };
    if let Some(email) = &email
        && let Err(e) = check_new_password(&request.password, email, "password")
    {
        errors.0.extend(e.0);
    }
    errors.into_result()?;
    let (Some(email), Some(name)) = (email, name) else {
        return Err(AppError::Internal("validated fields missing".into()));
    };
    rate_limit::hit(platform, "register-ip", &meta.ip, settings.limits.register_per_ip).await?;

    let password_hash = settings.hasher.hash(request.password).await?;
    let (user, ops, tokens) = new_account(
        platform,
        settings,
        meta,
        NewAccount { email: email.clone(), name, phone, password_hash },
        serde_json::json!({ "email": email }),
    )
    .await?;
    match platform.store.transact(ops).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { index: 0, .. }) => {
            return Err(AppError::Conflict(
                crate::EMAIL_TAKEN,
                "an account with this email already exists".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(user_id = %user.id, "account registered");
    Ok(SignedIn { user: UserView::of(&user, Vec::new()), tokens })
}

/// Signs in with email and password. Unknown emails and wrong passwords get the same answer,
/// after the same work (a password verification either way).
pub async fn login(
    platform: &Platform,
    settings: &AuthSettings,
    meta: &RequestMeta,
    credentials: Credentials,
) -> Result<SignedIn, AppError> {
    let typed = credentials.email.trim().to_lowercase();
    let limits = settings.limits;
    let pair = format!("{}|{typed}", meta.ip);
    let (by_pair, by_ip) = tokio::join!(
        rate_limit::hit(platform, "login-ip-email", &pair, limits.login_per_ip_email),
        rate_limit::hit(platform, "login-ip", &meta.ip, limits.login_per_ip),
    );
    by_pair?;
    by_ip?;

    let user = match Email::parse(&credentials.email, "email") {
        Ok(email) => match platform.store.get(&email_key(&email)).await? {
            Some(reservation) => {
                let user_id = UserId::new(reservation.string("user_id")?);
                match platform.store.get(&user_key(&user_id)).await? {
                    Some(item) => Some(item.to_record::<UserRecord>()?),
                    None => None,
                }
            }
            None => None,
        },
        Err(_) => None,
    };
    let verified = match &user {
        Some(user) => settings.hasher.verify(credentials.password, user.password_hash.clone()).await?,
        None => {
            settings.hasher.verify_decoy(credentials.password).await?;
            false
        }
    };
    let Some(user) = user.filter(|_| verified) else {
        let event = user_event(
            platform,
            meta,
            None,
            "auth.login_failed",
            &typed,
            serde_json::json!({ "email": typed }),
        );
        platform.store.write(audit::record(&event)?).await?;
        return Err(AppError::Unauthenticated(LOGIN_FAILED.into()));
    };

    let now = platform.clock.now();
    let (session_ops, tokens, session_id) = sessions::start(platform, settings, &user.id, meta, now).await?;
    let event = user_event(
        platform,
        meta,
        Some(&user.id),
        "auth.login_succeeded",
        &user.id,
        serde_json::json!({ "session_id": session_id }),
    );
    let mut ops = vec![
        WriteOp::update(
            user_key(&user.id),
            vec![atelier_platform::store::UpdateAction::Set(
                "last_login_at".into(),
                atelier_platform::store::Value::S(now.to_string()),
            )],
        )
        .when(Condition::Exists),
        audit::record(&event)?,
    ];
    ops.extend(session_ops);
    platform.store.transact(ops).await?;
    let view = UserView::of(&user, memberships(platform, &user.id).await?);
    Ok(SignedIn { user: view, tokens })
}

/// The caller's profile and memberships.
pub async fn me(platform: &Platform, who: &Authenticated) -> Result<UserView, AppError> {
    // The authentication already read the user: only the memberships are left to read.
    let memberships = memberships(platform, &who.user.id).await?;
    Ok(UserView::of_profile(&who.user, who.caller.is_admin, memberships))
}

/// A user as the recipient of a notice.
pub fn recipient(profile: &UserProfile) -> Recipient {
    Recipient {
        user_id: Some(profile.id.clone()),
        name: profile.name.clone(),
        email: Some(profile.email.as_str().to_owned()),
        phone: profile.phone.clone(),
        language: profile.language,
    }
}

/// The profiles of `users` (those that exist), in one batch read: what other capabilities may
/// know of people, never their stored record.
pub async fn profiles(platform: &Platform, users: &[UserId]) -> Result<Vec<UserProfile>, AppError> {
    let keys: Vec<_> = users.iter().map(user_key).collect();
    let found = platform.store.get_many(&keys).await?;
    Ok(found.iter().map(|i| i.to_record::<UserRecord>().map(|u| u.profile())).collect::<Result<_, _>>()?)
}

/// The caller's own record, for the use cases that change it (profile, password): the
/// authenticated profile carries neither the password hash nor the version.
async fn load(platform: &Platform, user_id: &UserId) -> Result<UserRecord, AppError> {
    let item = platform
        .store
        .get(&user_key(user_id))
        .await?
        .ok_or_else(|| AppError::Unauthenticated("no such user".into()))?;
    Ok(item.to_record()?)
}

/// Changes name and phone; a concurrent change of the same profile makes this one fail (409)
/// rather than silently overwrite it.
pub async fn update_profile(
    platform: &Platform,
    meta: &RequestMeta,
    who: &Authenticated,
    changes: ProfileChanges,
) -> Result<UserView, AppError> {
    let mut errors = Invalid::default();
    let current = load(platform, &who.caller.user_id).await?;
    let mut user = current.clone();
    let mut diff = serde_json::Map::new();
    if let Some(name) = &changes.name {
        match check_name(name, "name") {
            Ok(name) if name != user.name => {
                diff.insert("name".into(), serde_json::json!({ "from": user.name, "to": name }));
                user.name = name;
            }
            Ok(_) => {}
            Err(e) => errors.0.extend(e.0),
        }
    }
    if let Some(phone) = &changes.phone {
        let phone = match phone {
            Some(p) => check_phone(p, "phone").map(Some).map_err(|e| errors.0.extend(e.0)).ok().flatten(),
            None => None,
        };
        if phone != user.phone && errors.0.is_empty() {
            diff.insert("phone".into(), serde_json::json!({ "from": user.phone, "to": phone }));
            user.phone = phone;
        }
    }
    if let Some(language) = changes.language
        && language != user.language
    {
        diff.insert("language".into(), serde_json::json!({ "from": user.language, "to": language }));
        user.language = language;
    }
    errors.into_result()?;
    if diff.is_empty() {
        return me(platform, who).await;
    }
    user.updated_at = platform.clock.now();
    user.version += 1;
    let event = user_event(
        platform,
        meta,
        Some(&user.id),
        "user.profile_updated",
        &user.id,
        serde_json::Value::Object(diff),
    );
    // Only the fields that change: a concurrent write of other fields (an admin grant, say) is
    // never overwritten with what this request read.
    let mut actions = vec![
        UpdateAction::Set("name".into(), Value::S(user.name.clone())),
        UpdateAction::Set("updated_at".into(), Value::S(user.updated_at.to_string())),
        UpdateAction::Add("version".into(), 1),
    ];
    actions.push(match &user.phone {
        Some(phone) => UpdateAction::Set("phone".into(), Value::S(phone.clone())),
        None => UpdateAction::Remove("phone".into()),
    });
    actions.push(match user.language {
        Some(language) => UpdateAction::Set("language".into(), Value::S(language.tag().to_owned())),
        None => UpdateAction::Remove("language".into()),
    });
    let write = WriteOp::update(user_key(&user.id), actions).when(Condition::version_is(current.version));
    match platform.store.transact(vec![write, audit::record(&event)?]).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { index: 0, .. }) => {
            return Err(AppError::Conflict(
                CHANGED_MEANWHILE,
                "the profile changed meanwhile; read it again".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(UserView::of(&user, memberships(platform, &user.id).await?))
}

/// Changes the password: the current one must be given; every other session is signed out;
/// the user is told by a notice.
pub async fn change_password(
    platform: &Platform,
    settings: &AuthSettings,
    meta: &RequestMeta,
    who: &Authenticated,
    change: PasswordChange,
) -> Result<(), AppError> {
    let current = load(platform, &who.caller.user_id).await?;
    check_new_password(&change.new_password, &current.email, "new_password")?;
    if change.new_password == change.current_password {
        return Err(Invalid::field("new_password", "must differ from the current password").into());
    }
    if !settings.hasher.verify(change.current_password, current.password_hash.clone()).await? {
        return Err(Invalid::field("current_password", "is not your current password").into());
    }
    let mut user = current.clone();
    user.password_hash = settings.hasher.hash(change.new_password).await?;
    user.updated_at = platform.clock.now();
    user.version += 1;
    let event = user_event(
        platform,
        meta,
        Some(&user.id),
        "auth.password_changed",
        &user.id,
        serde_json::Value::Null,
    );
    let (notice, queue) = notice_event(
        platform.ids.new_id(),
        user.updated_at,
        None,
        &Notice::new(Topic::PasswordChanged, recipient(&user.profile())),
    );
    let (notice_op, entry) = outbox::record(&notice, &queue)?;
    let write = WriteOp::update(
        user_key(&user.id),
        vec![
            UpdateAction::Set("password_hash".into(), Value::S(user.password_hash.clone())),
            UpdateAction::Set("updated_at".into(), Value::S(user.updated_at.to_string())),
            UpdateAction::Add("version".into(), 1),
        ],
    )
    .when(Condition::version_is(current.version));
    // Other sessions end in the same transaction as the change (a transaction holds 100 writes;
    // a user with more sessions than fit has the rest revoked right after).
    let mut revocations =
        sessions::revoke_others(platform, &user.id, &who.caller.session_id, "password_changed").await?;
    let later = revocations.split_off(revocations.len().min(90));
    let mut ops = vec![write, audit::record(&event)?, notice_op];
    ops.extend(revocations);
    match platform.store.transact(ops).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { index: 0, .. }) => {
            return Err(AppError::Conflict(
                CHANGED_MEANWHILE,
                "the account changed meanwhile; try again".into(),
            ));
        }
        // A session ended meanwhile (logout): its revocation failed the transaction; go again.
        Err(StoreError::ConditionFailed { .. }) => {
            return Err(AppError::Conflict(
                CHANGED_MEANWHILE,
                "your sessions changed meanwhile; try again".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    platform.outbox.relay_committed(vec![entry]).await;
    for revoke in later {
        match platform.store.write(revoke).await {
            Ok(_) | Err(StoreError::ConditionFailed { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Makes an existing account a platform administrator (bootstrap, from the command line).
pub async fn make_admin(platform: &Platform, email: &str) -> Result<UserId, AppError> {
    let email = Email::parse(email, "email")?;
    let reservation = platform.store.get(&email_key(&email)).await?.ok_or(AppError::NotFound("account"))?;
    let user_id = UserId::new(reservation.string("user_id")?);
    let event = AuditEvent {
        id: platform.ids.new_id(),
        at: platform.clock.now(),
        actor: None,
        action: "user.made_admin".into(),
        entity: "user".into(),
        entity_id: user_id.to_string(),
        studio_id: None,
        ip: "command-line".into(),
        user_agent: "atelier admin bootstrap".into(),
        changes: serde_json::json!({ "is_admin": true }),
    };
    let promote = WriteOp::update(
        user_key(&user_id),
        vec![UpdateAction::Set("is_admin".into(), Value::Bool(true)), UpdateAction::Add("version".into(), 1)],
    )
    .when(Condition::Exists);
    platform.store.transact(vec![promote, audit::record(&event)?]).await?;
    Ok(user_id)
}

/// What a new account starts with.
pub(crate) struct NewAccount {
    pub email: Email,
    pub name: String,
    pub phone: Option<String>,
    pub password_hash: String,
}

/// The account, the writes that create it signed in (the email reserved first, so a taken email
/// fails write 0; the user; `auth.registered` with `details` and the session; the session's own
/// writes), and its tokens: registration and a first sign-in through a provider share them.
pub(crate) async fn new_account(
    platform: &Platform,
    settings: &AuthSettings,
    meta: &RequestMeta,
    account: NewAccount,
    mut details: serde_json::Value,
) -> Result<(UserRecord, Vec<WriteOp>, crate::TokenPair), AppError> {
    let now = platform.clock.now();
    let user = UserRecord {
        id: platform.ids.new_id().into(),
        email: account.email,
        name: account.name,
        phone: account.phone,
        language: None,
        password_hash: account.password_hash,
        is_admin: false,
        created_at: now,
        updated_at: now,
        last_login_at: Some(now),
        version: 1,
    };
    let (session_ops, tokens, session_id) = sessions::start(platform, settings, &user.id, meta, now).await?;
    details["session_id"] = serde_json::json!(session_id);
    let event = user_event(platform, meta, Some(&user.id), "auth.registered", &user.id, details);
    let mut ops = vec![
        WriteOp::create(Item::new(&email_key(&user.email)).with("user_id", user.id.as_str())),
        WriteOp::create(user.to_item()?),
        audit::record(&event)?,
    ];
    ops.extend(session_ops);
    Ok((user, ops, tokens))
}
