//! What notices are about: each topic has its variables, its built-in templates in every
//! language, whether it is transactional (cannot be turned off on every channel) and the
//! channels it uses when neither the recipient nor the studio chose.

use atelier_domain::language::Language;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A kind of notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    /// A booking waits for its deposit (to the client).
    BookingHeld,
    /// A booking was made (to the professional).
    BookingCreated,
    /// A booking is confirmed (to the client).
    BookingConfirmed,
    /// A booking moved.
    BookingRescheduled,
    /// A booking was cancelled, with the fee if any.
    BookingCancelled,
    /// A visit is complete, with loyalty points earned.
    BookingCompleted,
    /// The client did not come, with the fee and points taken.
    BookingNoShow,
    /// An appointment is coming up.
    BookingReminder,
    /// A series of appointments was booked.
    BookingSeries,
    /// A waitlisted client is offered a slot, until a deadline.
    WaitlistOffer,
    /// The account's password changed.
    PasswordChanged,
    /// A session was signed out because an old sign-in token was used again.
    SessionRevoked,
    /// Someone was invited to a studio's team.
    Invitation,
    /// A webhook endpoint kept failing and was turned off (to the studio's owners).
    WebhookEndpointDisabled,
    /// A payment was received: the receipt (to the client).
    PaymentReceived,
    /// A payment attempt was declined (to the client).
    PaymentFailed,
    /// Money was refunded, with why (to the client).
    PaymentRefunded,
    /// A product fell below its minimum (to the studio's owners and managers).
    StockLow,
    /// A completed service needed more of a product than there was (owners and managers).
    StockShortfall,
    /// A project's crew costs and expenses went beyond its budget (to the studio's owners).
    ProjectOverBudget,
    /// An export is ready to download, or failed (to whoever asked for it).
    ExportFinished,
    /// An import was applied, with its rows' outcomes (to whoever asked for it).
    ImportFinished,
}

/// A channel a person is reached on (webhooks are per studio, not per person).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The in-app inbox.
    InApp,
    /// Email.
    Email,
    /// SMS.
    Sms,
}

impl Channel {
    /// Every channel.
    pub const ALL: [Channel; 3] = [Channel::InApp, Channel::Email, Channel::Sms];

    /// The name used in keys and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::InApp => "in_app",
            Channel::Email => "email",
            Channel::Sms => "sms",
        }
    }
}

const BOOKING_VARS: &[&str] = &["recipient", "studio", "service", "professional", "client", "start"];

impl Topic {
    /// Every topic.
    pub const ALL: [Topic; 22] = [
        Topic::BookingHeld,
        Topic::BookingCreated,
        Topic::BookingConfirmed,
        Topic::BookingRescheduled,
        Topic::BookingCancelled,
        Topic::BookingCompleted,
        Topic::BookingNoShow,
        Topic::BookingReminder,
        Topic::BookingSeries,
        Topic::WaitlistOffer,
        Topic::PasswordChanged,
        Topic::SessionRevoked,
        Topic::Invitation,
        Topic::WebhookEndpointDisabled,
        Topic::PaymentReceived,
        Topic::PaymentFailed,
        Topic::PaymentRefunded,
        Topic::StockLow,
        Topic::StockShortfall,
        Topic::ProjectOverBudget,
        Topic::ExportFinished,
        Topic::ImportFinished,
    ];

    /// The name on the wire and in keys.
    pub fn as_str(self) -> &'static str {
        match self {
            Topic::BookingHeld => "booking_held",
            Topic::BookingCreated => "booking_created",
            Topic::BookingConfirmed => "booking_confirmed",
            Topic::BookingRescheduled => "booking_rescheduled",
            Topic::BookingCancelled => "booking_cancelled",
            Topic::BookingCompleted => "booking_completed",
            Topic::BookingNoShow => "booking_no_show",
            Topic::BookingReminder => "booking_reminder",
            Topic::BookingSeries => "booking_series",
            Topic::WaitlistOffer => "waitlist_offer",
            Topic::PasswordChanged => "password_changed",
            Topic::SessionRevoked => "session_revoked",
            Topic::Invitation => "invitation",
            Topic::WebhookEndpointDisabled => "webhook_endpoint_disabled",
            Topic::PaymentReceived => "payment_received",
            Topic::PaymentFailed => "payment_failed",
            Topic::PaymentRefunded => "payment_refunded",
            Topic::StockLow => "stock_low",
            Topic::StockShortfall => "stock_shortfall",
            Topic::ProjectOverBudget => "project_over_budget",
            Topic::ExportFinished => "export_finished",
            Topic::ImportFinished => "import_finished",
        }
    }

    /// The topic named `name`.
    pub fn parse(name: &str) -> Option<Topic> {
        Topic::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Whether a recipient must keep at least one channel for it: notices about their money,
    /// their appointments' changes and their account's security.
    pub fn transactional(self) -> bool {
        matches!(
            self,
            Topic::BookingHeld
                | Topic::BookingConfirmed
                | Topic::BookingRescheduled
                | Topic::BookingCancelled
                | Topic::BookingNoShow
                | Topic::PasswordChanged
                | Topic::SessionRevoked
                | Topic::PaymentReceived
                | Topic::PaymentFailed
                | Topic::PaymentRefunded
        )
    }

    /// Channels used when neither the recipient nor the studio chose: the inbox and email for
    /// everything; SMS (which costs the studio money) only when someone turns it on.
    pub fn default_on(self, channel: Channel) -> bool {
        !matches!(channel, Channel::Sms)
    }

    /// The variables its templates may use (optional ones may be absent: test them with `if`).
    pub fn variables(self) -> &'static [&'static str] {
        match self {
            Topic::BookingHeld => &[
                "recipient",
                "studio",
                "service",
                "professional",
                "client",
                "start",
                "hold_until",
                "deposit",
            ],
            Topic::BookingCreated | Topic::BookingConfirmed | Topic::BookingReminder => BOOKING_VARS,
            Topic::BookingRescheduled => {
                &["recipient", "studio", "service", "professional", "client", "start", "previous_start"]
            }
            Topic::BookingCancelled => {
                &["recipient", "studio", "service", "professional", "client", "start", "fee"]
            }
            Topic::BookingCompleted => {
                &["recipient", "studio", "service", "professional", "client", "start", "points"]
            }
            Topic::BookingNoShow => {
                &["recipient", "studio", "service", "professional", "client", "start", "fee", "points_lost"]
            }
            Topic::BookingSeries => {
                &["recipient", "studio", "service", "professional", "client", "count", "dates"]
            }
            Topic::WaitlistOffer => {
                &["recipient", "studio", "service", "professional", "client", "start", "hold_until"]
            }
            Topic::PasswordChanged | Topic::SessionRevoked => &["recipient"],
            Topic::Invitation => &["recipient", "studio", "role", "invited_by", "expires_at"],
            Topic::WebhookEndpointDisabled => &["recipient", "studio", "url", "failing_since"],
            Topic::PaymentReceived | Topic::PaymentFailed | Topic::PaymentRefunded => {
                &["recipient", "studio", "service", "start", "amount", "reason"]
            }
            Topic::StockLow => &["recipient", "studio", "product", "sku", "unit", "quantity", "minimum"],
            Topic::ProjectOverBudget => &["recipient", "studio", "project", "budget", "spent"],
            Topic::ExportFinished => &["recipient", "studio", "dataset", "format", "rows", "outcome", "link"],
            Topic::ImportFinished => &["recipient", "studio", "kind", "applied", "refused", "link"],
            Topic::StockShortfall => {
                &["recipient", "studio", "product", "sku", "unit", "quantity", "minimum", "shortfall"]
            }
        }
    }

    /// The built-in subject and body in `language`.
    pub fn builtin(self, language: Language) -> (&'static str, &'static str) {
        match language {
            Language::En => self.english(),
            Language::PtBr => self.portuguese(),
        }
    }

    fn english(self) -> (&'static str, &'static str) {
        match self {
            Topic::BookingHeld => (
                "Booking held",
                "{{ service }} with {{ professional }} on {{ start }} is held for you until {{ hold_until }}; {% if deposit %}it is confirmed once the deposit of {{ deposit }} is paid.{% else %}the studio will confirm it.{% endif %}",
            ),
            Topic::BookingCreated => {
                ("New booking", "{{ client }} booked {{ service }} with {{ professional }} on {{ start }}.")
            }
            Topic::BookingConfirmed => {
                ("Booking confirmed", "{{ service }} with {{ professional }} on {{ start }} is confirmed.")
            }
            Topic::BookingRescheduled => (
                "Booking moved",
                "{{ client }}'s booking for {{ service }} on {{ previous_start }} moved to {{ start }} with {{ professional }}.",
            ),
            Topic::BookingCancelled => (
                "Booking cancelled",
                "{{ service }} with {{ professional }} on {{ start }} is cancelled.{% if fee %} A fee of {{ fee }} applies.{% endif %}",
            ),
            Topic::BookingCompleted => (
                "Thank you for your visit",
                "{{ service }} with {{ professional }} on {{ start }} is complete.{% if points %} You earned {{ points }} loyalty points.{% endif %}",
            ),
            Topic::BookingNoShow => (
                "Missed appointment",
                "You missed {{ service }} with {{ professional }} on {{ start }}.{% if fee %} A fee of {{ fee }} applies.{% endif %}{% if points_lost %} {{ points_lost }} loyalty points were deducted.{% endif %}",
            ),
            Topic::BookingReminder => (
                "Appointment reminder",
                "See you soon: {{ service }} with {{ professional }} on {{ start }}.",
            ),
            Topic::BookingSeries => (
                "Series booked",
                "{{ count }} appointments for {{ service }} with {{ professional }}: {{ dates }}.",
            ),
            Topic::WaitlistOffer => (
                "A slot opened up",
                "{{ service }} with {{ professional }} on {{ start }} is free and held for you until {{ hold_until }}. Confirm it to book.",
            ),
            Topic::PasswordChanged => (
                "Your password was changed",
                "Your password was changed and your other sessions were signed out. If this was not you, contact support.",
            ),
            Topic::SessionRevoked => (
                "A session was signed out",
                "An old sign-in token was used again, so we signed that session out. If this was not you, change your password.",
            ),
            Topic::Invitation => (
                "You are invited to {{ studio }}",
                "{{ invited_by }} invited you to join {{ studio }} as {{ role }}. The invitation is open until {{ expires_at }}.",
            ),
            Topic::WebhookEndpointDisabled => (
                "Webhook endpoint turned off",
                "Deliveries to {{ url }} have failed since {{ failing_since }}, so the endpoint was turned off. Fix it, turn it back on and replay the failed messages.",
            ),
            Topic::PaymentReceived => {
                ("Payment received", "We received {{ amount }} for {{ service }} on {{ start }}. Thank you.")
            }
            Topic::PaymentFailed => (
                "Payment declined",
                "Your payment of {{ amount }} for {{ service }} on {{ start }} was declined{% if reason %}: {{ reason }}{% endif %}. Try another card before the hold ends.",
            ),
            Topic::PaymentRefunded => (
                "Refund on its way",
                "{{ amount }} for {{ service }} on {{ start }} is being refunded{% if reason %} ({{ reason }}){% endif %}.",
            ),
            Topic::StockLow => (
                "Low stock: {{ product }}",
                "{{ product }} ({{ sku }}) is down to {{ quantity }} {{ unit }}, below its minimum of {{ minimum }}. Time to reorder.",
            ),
            Topic::StockShortfall => (
                "Stock short: {{ product }}",
                "A completed service needed {{ shortfall }} {{ unit }} more of {{ product }} ({{ sku }}) than the shelf held; {{ quantity }} {{ unit }} left. Count it and receive stock.",
            ),
            Topic::ProjectOverBudget => (
                "Over budget: {{ project }}",
                "{{ project }} has spent {{ spent }} on crew and expenses, beyond its budget of {{ budget }}.",
            ),
            Topic::ExportFinished => (
                "Export {{ outcome }}: {{ dataset }}",
                "Your {{ format }} export of {{ dataset }} is {{ outcome }} ({{ rows }} rows). Get its download link from {{ link }}.",
            ),
            Topic::ImportFinished => (
                "Import of {{ kind }} finished",
                "{{ applied }} rows were applied and {{ refused }} refused. The report of every row is at {{ link }}.",
            ),
        }
    }

    fn portuguese(self) -> (&'static str, &'static str) {
        match self {
            Topic::BookingHeld => (
                "Reserva pendente",
                "{{ service }} com {{ professional }} em {{ start }} está reservado para você até {{ hold_until }}; {% if deposit %}a reserva é confirmada após o pagamento do sinal de {{ deposit }}.{% else %}o estúdio vai confirmá-la.{% endif %}",
            ),
            Topic::BookingCreated => (
                "Novo agendamento",
                "{{ client }} agendou {{ service }} com {{ professional }} em {{ start }}.",
            ),
            Topic::BookingConfirmed => (
                "Agendamento confirmado",
                "{{ service }} com {{ professional }} em {{ start }} está confirmado.",
            ),
            Topic::BookingRescheduled => (
                "Agendamento remarcado",
                "O agendamento de {{ client }} para {{ service }} em {{ previous_start }} foi remarcado para {{ start }} com {{ professional }}.",
            ),
            Topic::BookingCancelled => (
                "Agendamento cancelado",
                "{{ service }} com {{ professional }} em {{ start }} foi cancelado.{% if fee %} Será cobrada uma taxa de {{ fee }}.{% endif %}",
            ),
            Topic::BookingCompleted => (
                "Obrigado pela visita",
                "{{ service }} com {{ professional }} em {{ start }} foi concluído.{% if points %} Você ganhou {{ points }} pontos de fidelidade.{% endif %}",
            ),
            Topic::BookingNoShow => (
                "Falta registrada",
                "Você não compareceu a {{ service }} com {{ professional }} em {{ start }}.{% if fee %} Será cobrada uma taxa de {{ fee }}.{% endif %}{% if points_lost %} Foram descontados {{ points_lost }} pontos de fidelidade.{% endif %}",
            ),
            Topic::BookingReminder => {
                ("Lembrete de horário", "Até breve: {{ service }} com {{ professional }} em {{ start }}.")
            }
            Topic::BookingSeries => (
                "Série agendada",
                "{{ count }} horários de {{ service }} com {{ professional }}: {{ dates }}.",
            ),
            Topic::WaitlistOffer => (
                "Surgiu uma vaga",
                "{{ service }} com {{ professional }} em {{ start }} está livre e reservado para você até {{ hold_until }}. Confirme para agendar.",
            ),
            Topic::PasswordChanged => (
                "Sua senha foi alterada",
                "Sua senha foi alterada e suas outras sessões foram encerradas. Se não foi você, fale com o suporte.",
            ),
            Topic::SessionRevoked => (
                "Uma sessão foi encerrada",
                "Um token de acesso antigo foi usado de novo, por isso encerramos essa sessão. Se não foi você, altere sua senha.",
            ),
            Topic::Invitation => (
                "Convite para {{ studio }}",
                "{{ invited_by }} convidou você para a equipe de {{ studio }} como {{ role }}. O convite vale até {{ expires_at }}.",
            ),
            Topic::WebhookEndpointDisabled => (
                "Webhook desativado",
                "As entregas para {{ url }} falham desde {{ failing_since }}, por isso o endpoint foi desativado. Corrija-o, reative-o e reenvie as mensagens que falharam.",
            ),
            Topic::PaymentReceived => {
                ("Pagamento recebido", "Recebemos {{ amount }} por {{ service }} em {{ start }}. Obrigado.")
            }
            Topic::PaymentFailed => (
                "Pagamento recusado",
                "Seu pagamento de {{ amount }} por {{ service }} em {{ start }} foi recusado{% if reason %}: {{ reason }}{% endif %}. Tente outro cartão antes do fim da reserva.",
            ),
            Topic::PaymentRefunded => (
                "Reembolso a caminho",
                "{{ amount }} por {{ service }} em {{ start }} está sendo reembolsado{% if reason %} ({{ reason }}){% endif %}.",
            ),
            Topic::StockLow => (
                "Estoque baixo: {{ product }}",
                "{{ product }} ({{ sku }}) está com {{ quantity }} {{ unit }}, abaixo do mínimo de {{ minimum }}. Hora de repor.",
            ),
            Topic::StockShortfall => (
                "Falta de estoque: {{ product }}",
                "Um serviço concluído precisou de {{ shortfall }} {{ unit }} a mais de {{ product }} ({{ sku }}) do que havia na prateleira; restam {{ quantity }} {{ unit }}. Faça a contagem e registre a entrada.",
            ),
            Topic::ProjectOverBudget => (
                "Orçamento estourado: {{ project }}",
                "{{ project }} já gastou {{ spent }} com equipe e despesas, além do orçamento de {{ budget }}.",
            ),
            Topic::ExportFinished => (
                "Exportação {{ outcome }}: {{ dataset }}",
                "Sua exportação {{ format }} de {{ dataset }} está {{ outcome }} ({{ rows }} linhas). O link de download está em {{ link }}.",
            ),
            Topic::ImportFinished => (
                "Importação de {{ kind }} concluída",
                "{{ applied }} linhas aplicadas e {{ refused }} recusadas. O relatório de cada linha está em {{ link }}.",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for topic in Topic::ALL {
            assert_eq!(Topic::parse(topic.as_str()), Some(topic));
            assert_eq!(serde_json::to_value(topic).expect("json"), serde_json::json!(topic.as_str()));
        }
    }
}
