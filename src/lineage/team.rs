//! Which team metadata store this clone sends its runs to and reads the team's from: the
//! manifest's `metadata url=…`, unless `ZENBUILD_METADATA_URL` on this machine says otherwise
//! (an empty value: none, the SQLite file only). The password is never in the manifest: it
//! comes from `ZENBUILD_METADATA_PASSWORD`, else the server's usual places (`PGPASSWORD` or
//! `~/.pgpass` for PostgreSQL, `MYSQL_PWD` for MySQL), else the URL itself.
//!
//! A pipeline may name a store of its own (`metadata` inside `pipeline`): the runs that build
//! it go there instead. Each run belongs to one store, which numbers it and links its
//! artifacts to the runs that made them; `ZENBUILD_METADATA_URL` overrides every store of
//! the manifest, the pipelines' included.

use std::path::PathBuf;

use super::LineageError;
use super::server::sql::Dialect;
use super::server::url::BadUrl;
use super::server::{ServerStore, ServerUrl};

/// The variable that names the store on one machine, over the manifest.
pub const URL_VAR: &str = "ZENBUILD_METADATA_URL";
/// The variable that holds its password.
pub const PASSWORD_VAR: &str = "ZENBUILD_METADATA_PASSWORD";

/// A team store as this machine reaches it.
#[derive(Clone, Debug)]
pub struct Team {
    pub url: ServerUrl,
    password: Option<String>,
    /// A pipeline's own store, rather than the manifest's: it gets only the runs recorded
    /// for it ([`crate::lineage::NewRun::store`]).
    pub own: bool,
}

impl Team {
    /// The team store this machine uses with a manifest whose `metadata url=` is
    /// `manifest_url`; `None` for none.
    pub fn configured(manifest_url: Option<&str>) -> Result<Option<Team>, BadUrl> {
        let from_env = std::env::var(URL_VAR).ok();
        let url = match from_env.as_deref() {
            Some(url) if url.trim().is_empty() => return Ok(None),
            Some(url) => url,
            None => match manifest_url {
                Some(url) => url,
                None => return Ok(None),
            },
        };
        Team::parse(url, false).map(Some)
    }

    /// The store the runs of a pipeline whose own `metadata url=` is `pipeline_url` go to:
    /// that one, unless this machine names one for all, or it is the manifest's anyway.
    pub fn of_pipeline(
        manifest_url: Option<&str>,
        pipeline_url: Option<&str>,
    ) -> Result<Option<Team>, BadUrl> {
        let manifest = Team::configured(manifest_url)?;
        let Some(url) = pipeline_url else {
            return Ok(manifest);
        };
        if std::env::var_os(URL_VAR).is_some() {
            return Ok(manifest);
        }
        let own = Team::parse(url, true)?;
        Ok(Some(match manifest {
            Some(manifest) if manifest.url == own.url => manifest,
            _ => own,
        }))
    }

    /// Every store runs of this manifest go to, the manifest's first, each once.
    pub fn every<'u>(
        manifest_url: Option<&str>,
        pipeline_urls: impl IntoIterator<Item = &'u str>,
    ) -> Result<Vec<Team>, BadUrl> {
        let mut teams: Vec<Team> = Team::configured(manifest_url)?.into_iter().collect();
        for url in pipeline_urls {
            if let Some(team) = Team::of_pipeline(manifest_url, Some(url))?
                && !teams.iter().any(|known| known.url == team.url)
            {
                teams.push(team);
            }
        }
        Ok(teams)
    }

    fn parse(url: &str, own: bool) -> Result<Team, BadUrl> {
        let url = ServerUrl::parse(url.trim())?;
        let password = password(&url);
        Ok(Team { url, password, own })
    }

    /// What the clone records as a run's store when it goes here ([`crate::lineage::NewRun::store`]).
    pub fn recorded_as(&self) -> Option<String> {
        self.own.then(|| self.shown())
    }

    /// Connects, bringing the schema up to date.
    pub fn open(&self) -> Result<ServerStore, LineageError> {
        ServerStore::open(&self.url, self.password.as_deref())
    }

    /// The store's URL as messages and the outbox show it.
    pub fn shown(&self) -> String {
        self.url.shown()
    }
}

fn password(url: &ServerUrl) -> Option<String> {
    if let Ok(password) = std::env::var(PASSWORD_VAR) {
        return Some(password);
    }
    if let Some(password) = &url.password {
        return Some(password.clone());
    }
    match url.dialect {
        Dialect::Postgres => std::env::var("PGPASSWORD").ok().or_else(|| pgpass(url)),
        Dialect::Mysql => std::env::var("MYSQL_PWD").ok(),
    }
}

/// The password `~/.pgpass` (or `PGPASSFILE`) gives for `url`, as libpq reads it: lines of
/// `host:port:database:user:password`, `*` matching anything, `\\` escaping `:` and `\\`.
fn pgpass(url: &ServerUrl) -> Option<String> {
    let path = std::env::var_os("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".pgpass")))?;
    let text = std::fs::read_to_string(path).ok()?;
    let port = url.port.to_string();
    let wanted = [
        url.host.as_str(),
        port.as_str(),
        url.database.as_str(),
        url.user.as_str(),
    ];
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .map(fields)
        .find(|fields| {
            fields.len() == 5
                && fields
                    .iter()
                    .zip(wanted)
                    .all(|(field, wanted)| field == "*" || field == wanted)
        })
        .and_then(|mut fields| fields.pop())
}

/// A `.pgpass` line's fields, unescaped.
fn fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(next), Some(field)) = (chars.next(), fields.last_mut()) {
                    field.push(next);
                }
            }
            ':' => fields.push(String::new()),
            _ => {
                if let Some(field) = fields.last_mut() {
                    field.push(c);
                }
            }
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::fields;

    #[test]
    fn pgpass_lines_are_split_as_libpq_splits_them() {
        assert_eq!(
            fields(r"db.internal:5432:*:ml:pa\:ss\\word"),
            ["db.internal", "5432", "*", "ml", r"pa:ss\word"]
        );
    }
}
