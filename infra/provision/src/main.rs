//! Creates Atelier's table, queues and bucket on local emulators (DynamoDB Local, moto) from
//! the same definitions the tests use, and prints the environment that points at them.
//!
//! Usage: `atelier-provision <prefix>`; endpoints come from `AWS_ENDPOINT_URL*`.

use atelier_aws::provision::{create_bucket, create_queue, create_table};
use atelier_aws::{Clients, sdk_config};
use atelier_core::queue::QueueName;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let prefix = std::env::args().nth(1).unwrap_or_else(|| "atelier-local".to_owned());
    let clients = Clients::new(&sdk_config().await, true);
    create_table(&clients.dynamodb, &prefix).await?;
    println!("ATELIER_TABLE={prefix}");
    for queue in QueueName::ALL {
        let url = create_queue(&clients.sqs, &format!("{prefix}-{}", queue.as_str())).await?;
        println!("ATELIER_{}_QUEUE_URL={url}", queue.as_str().to_uppercase());
    }
    let bucket = format!("{prefix}-exports");
    create_bucket(&clients.s3, &bucket).await?;
    println!("ATELIER_EXPORTS_BUCKET={bucket}");
    println!("ATELIER_S3_FORCE_PATH_STYLE=true");
    Ok(())
}
