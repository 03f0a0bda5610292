//! `users add|token`: people who use the pages and the API. Passwords are read from stdin
//! (never from the command line, where `ps` would show them) or generated and printed once;
//! tokens are printed once and stored only as their sha256.

use crate::cli::UsersCommand;
use clipguard_core::Config;
use clipguard_core::stage::Accounts;
use clipguard_pipeline::topology::open_stores;
use clipguard_web::auth::secret;
use std::io::Read;
use std::process::ExitCode;

pub async fn users(config: Config, command: UsersCommand) -> anyhow::Result<ExitCode> {
    let (store, _) = open_stores(&config).await?;
    match command {
        UsersCommand::Add {
            name,
            role,
            password_stdin,
        } => {
            anyhow::ensure!(
                !name.trim().is_empty() && name.len() <= 64 && !name.contains(char::is_whitespace),
                "a user name is 1–64 characters without spaces"
            );
            let role = role.parse().map_err(anyhow::Error::msg)?;
            let (password, generated) = if password_stdin {
                let mut text = String::new();
                std::io::stdin().read_to_string(&mut text)?;
                (text.trim_end_matches(['\n', '\r']).to_string(), false)
            } else {
                (secret::random_token()[..20].to_string(), true)
            };
            anyhow::ensure!(
                password.chars().count() >= 10,
                "a password needs at least 10 characters"
            );
            let hash = secret::hash_password(&password).map_err(anyhow::Error::msg)?;
            store.put_user(&name, role, &hash).await?;
            if generated {
                println!("user `{name}` ({role}) password: {password}");
            } else {
                println!("user `{name}` ({role}) saved");
            }
        }
        UsersCommand::Token { name, label } => {
            let token = secret::random_token();
            store
                .add_token(&secret::digest(&token), &name, &label)
                .await?;
            println!("{token}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
