//! The `chatgql` binary: `serve` (default), `migrate`, `schema`.

use std::process::ExitCode;

use chatgql::{
    app,
    config::{Cli, Command, Environment, LogFormat, redact_url},
    db::Db,
    graphql, telemetry,
};
use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Schema = command {
        print!("{}", graphql::sdl());
        return ExitCode::SUCCESS;
    }
    let format = cli
        .settings
        .log_format
        .unwrap_or(match cli.settings.environment {
            Environment::Production => LogFormat::Json,
            Environment::Development => LogFormat::Text,
        });
    telemetry::init(format);
    let config = match cli.settings.validate() {
        Ok(config) => config,
        Err(problem) => return fail(&problem),
    };
    match command {
        Command::Migrate => {
            let db = match Db::connect(&config.database_url).await {
                Ok(db) => db,
                Err(err) => return fail(&format!("{err:#}")),
            };
            match app::migrate(&db).await {
                Ok(()) => {
                    tracing::info!(database = %redact_url(&config.database_url), "migrations applied");
                    ExitCode::SUCCESS
                }
                Err(err) => fail(&format!("{err:#}")),
            }
        }
        _ => {
            let database = redact_url(&config.database_url);
            let app = match app::build(config).await {
                Ok(app) => app,
                Err(err) => return fail(&format!("{err:#}")),
            };
            tracing::info!(addr = %app.local_addr(), %database, "chatgql listening");
            match app.serve(shutdown_signal()).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => fail(&format!("{err:#}")),
            }
        }
    }
}

/// One clear line on stderr, non-zero exit.
fn fail(problem: &str) -> ExitCode {
    eprintln!("chatgql: {problem}");
    ExitCode::FAILURE
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
