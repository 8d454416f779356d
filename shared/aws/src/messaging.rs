//! Email through Amazon SES v2 and SMS through Amazon SNS `Publish` to a phone number. Errors
//! the provider will repeat for this message (a rejected or unverified address, an invalid
//! number) are permanent; everything else is transient and the worker retries it until the
//! message dead-letters and its alarm fires: throttling, 5xx and timeouts, and also a paused
//! or suspended sending account or a missing permission, which an operator fixes and after
//! which the notices should still go out.

use async_trait::async_trait;
use atelier_platform::outbound::{MailSender, OutgoingEmail, OutgoingSms, SendError, SmsSender, is_e164};
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

/// Email through SES v2, from a verified identity.
#[derive(Debug, Clone)]
pub struct SesMail {
    client: aws_sdk_sesv2::Client,
    from: String,
}

impl SesMail {
    /// Sends as `from` (an SES-verified address or an address of a verified domain).
    pub fn new(client: aws_sdk_sesv2::Client, from: &str) -> SesMail {
        SesMail { client, from: from.to_owned() }
    }
}

fn content(text: &str) -> Result<Content, SendError> {
    Content::builder()
        .data(text)
        .charset("UTF-8")
        .build()
        .map_err(|e| SendError::Permanent(format!("email content: {e}")))
}

#[async_trait]
impl MailSender for SesMail {
    async fn send(&self, email: &OutgoingEmail) -> Result<String, SendError> {
        let message = Message::builder()
            .subject(content(&email.subject)?)
            .body(Body::builder().text(content(&email.text)?).html(content(&email.html)?).build())
            .build();
        let result = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(&email.to).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await;
        match result {
            Ok(output) => Ok(output.message_id().unwrap_or_default().to_owned()),
            Err(e) => {
                use aws_sdk_sesv2::operation::send_email::SendEmailError as E;
                let permanent = match e.as_service_error() {
                    Some(
                        E::MessageRejected(_)
                        | E::MailFromDomainNotVerifiedException(_)
                        | E::BadRequestException(_)
                        | E::NotFoundException(_),
                    ) => true,
                    Some(other) => other.meta().code() == Some("MessageRejected"),
                    None => false,
                };
                if permanent {
                    Err(SendError::Permanent(aws_sdk_sesv2::error::DisplayErrorContext(&e).to_string()))
                } else {
                    Err(SendError::transient("SES SendEmail", e))
                }
            }
        }
    }
}

/// SMS through SNS `Publish` with a phone number.
#[derive(Debug, Clone)]
pub struct SnsSms {
    client: aws_sdk_sns::Client,
}

impl SnsSms {
    /// Text messages through `client`.
    pub fn new(client: aws_sdk_sns::Client) -> SnsSms {
        SnsSms { client }
    }
}

#[async_trait]
impl SmsSender for SnsSms {
    async fn send(&self, sms: &OutgoingSms) -> Result<String, SendError> {
        if !is_e164(&sms.to) {
            return Err(SendError::Permanent(format!("{} is not an E.164 phone number", sms.to)));
        }
        let result = self
            .client
            .publish()
            .phone_number(&sms.to)
            .message(&sms.text)
            .message_attributes(
                "AWS.SNS.SMS.SMSType",
                aws_sdk_sns::types::MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value("Transactional")
                    .build()
                    .map_err(|e| SendError::Permanent(format!("SMS attributes: {e}")))?,
            )
            .send()
            .await;
        match result {
            Ok(output) => Ok(output.message_id().unwrap_or_default().to_owned()),
            Err(e) => {
                use aws_sdk_sns::operation::publish::PublishError as E;
                match e.as_service_error() {
                    Some(E::InvalidParameterException(_) | E::InvalidParameterValueException(_)) => {
                        Err(SendError::Permanent(aws_sdk_sns::error::DisplayErrorContext(&e).to_string()))
                    }
                    _ => Err(SendError::transient("SNS Publish", e)),
                }
            }
        }
    }
}
