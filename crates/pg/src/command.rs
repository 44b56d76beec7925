//! Running the PostgreSQL programs and reporting their failures with everything an operator
//! needs: the command line, the exit status and what the program printed.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::error::PgError;

/// Runs a command to completion, feeding `stdin`, and turns failure into [`PgError`].
pub(crate) fn run(command: &mut Command, name: &str, stdin: Option<&str>) -> Result<String, PgError> {
    command.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|source| PgError::Spawn { program: name.to_owned(), source })?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .map_err(|source| PgError::Spawn { program: name.to_owned(), source })?;
    }
    let output =
        child.wait_with_output().map_err(|source| PgError::Spawn { program: name.to_owned(), source })?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        return Ok(stdout);
    }
    Err(PgError::CommandFailed {
        command: describe(command),
        status: output.status.to_string(),
        output: format!("{stdout}{}", String::from_utf8_lossy(&output.stderr)).trim().to_owned(),
    })
}

/// The command line, for error messages an operator can act on.
pub(crate) fn describe(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|part| part.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}
