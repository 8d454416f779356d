//! Operations against a deployment (or local emulators); AWS settings come from the
//! environment as for the functions.
//!
//! - `atelier-ops provision <prefix>`: creates the table, queues, bucket and SES sender (for emulators) from
//!   the same definitions the tests use, and prints the environment pointing at them.
//! - `atelier-ops make-admin <email>`: makes an existing account a platform administrator
//!   (needs `ATELIER_TABLE`).
//! - `atelier-ops rebuild-tallies --studio <id> --from <date> --to <date> [--apply]`: compares
//!   (and mends) a studio's daily booking tallies with its bookings (docs/reports.md).
//! - `atelier-ops openapi`: prints the OpenAPI document generated from the code (what
//!   `docs/openapi.json` must hold).

use atelier_aws::provision::{create_bucket, create_email_identity, create_queue, create_table};
use atelier_aws::{Clients, sdk_config};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["provision", prefix] => provision(prefix).await,
        ["make-admin", email] => {
            let platform = atelier_aws::platform_from_env().await?;
            let user_id = atelier_identity::make_admin(&platform, email).await?;
            println!("{email} ({user_id}) is now a platform administrator");
            Ok(())
        }
        ["rebuild-tallies", rest @ ..] => {
            let platform = atelier_aws::platform_from_env().await?;
            println!("{}", atelier_reports::rebuild::command(&platform, rest).await?);
            Ok(())
        }
        ["openapi"] => {
            print!("{}", atelier_app::openapi::document_json());
            Ok(())
        }
        _ => {
            Err("usage: atelier-ops provision <prefix> | make-admin <email> | rebuild-tallies … | openapi"
                .into())
        }
    }
}

async fn provision(prefix: &str) -> Result<(), Box<dyn std::error::Error>> {
    let clients = Clients::new(&sdk_config().await, true);
    create_table(&clients.dynamodb, prefix).await?;
    println!("ATELIER_TABLE={prefix}");
    for queue in atelier_app::QUEUES {
        let url = create_queue(&clients.sqs, &format!("{prefix}-{}", queue.as_str())).await?;
        println!("ATELIER_{}_QUEUE_URL={url}", queue.as_str().to_uppercase());
    }
    let bucket = format!("{prefix}-exports");
    create_bucket(&clients.s3, &bucket).await?;
    println!("ATELIER_EXPORTS_BUCKET={bucket}");
    println!("ATELIER_S3_FORCE_PATH_STYLE=true");
    let from = atelier_platform::outbound::mail_from_env();
    create_email_identity(&clients.ses, &from).await?;
    println!("ATELIER_MAIL_FROM={from}");
    Ok(())
}
