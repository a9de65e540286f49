//! A page's own files in `cafe export` and `cafe import`: the folder
//! `SLUG.files/` beside `SLUG.md`, laid out as the module `transfer` says.
//! Export writes every version of every file a visitor may see; import
//! adds the versions a page does not have yet, in the page import's one
//! transaction, after the pages.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};

use crate::db::{Db, Tx};
use crate::files::Owner;
use crate::files::db::{
    StoredVersion, Upload, add_in, all_page_versions, chunk, hash_of, versions_in,
};
use crate::files::kind::{self, Clean, Kind};
use crate::recent::db::{NewEvent, record};

/// What a page's files folder is named after: `SLUG.files`.
pub const FOLDER_SUFFIX: &str = ".files";

/// The list of a folder's versions, one row each.
pub const VERSIONS_CSV: &str = "versions.csv";

/// The most characters of a description: the upload form's limit, so an
/// imported description is one the site could have been given.
const DESCRIPTION_MAX: usize = 500;

/// One row of `versions.csv`: version `version` of the file `name`, whose
/// bytes are `v{version}/{name}`. Only `name` and `version` are needed by
/// import; an empty `created_at` is the time of the import, an empty or
/// unknown `uploaded_by_username` no uploader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRow {
    pub name: String,
    pub version: i64,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub uploaded_by_username: String,
    #[serde(default)]
    pub created_at: String,
}

/// The folder of the page `slug`'s files in the export folder `dir`.
pub fn folder(dir: &Path, slug: &str) -> PathBuf {
    dir.join(format!("{slug}{FOLDER_SUFFIX}"))
}

/// Where version `version` of `name` lies in a page's files folder: one
/// folder per version number, so that each file keeps its own name (and
/// opens with the right program) and the versions of a file sort together.
pub fn version_path(folder: &Path, version: i64, name: &str) -> PathBuf {
    folder.join(format!("v{version}")).join(name)
}

/// Whether `name` is one plain file name, never a path that leads
/// elsewhere (`..`, `a/b`, an absolute path): checked before the name
/// touches the file system, on export and on import.
fn is_plain_name(name: &str) -> bool {
    let mut parts = Path::new(name).components();
    matches!(
        (parts.next(), parts.next()),
        (Some(Component::Normal(part)), None) if *part == *name
    )
}

/// What an export of files wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Exported {
    pub pages: usize,
    pub files: usize,
    pub versions: usize,
}

/// Writes every version of every visible file of every live page into
/// `dir`, a page's at a time, each file a chunk at a time (so a large file
/// never sits in memory whole). Hidden files are left out: an
/// administrator took them off the site, and an export is read by
/// whoever is given the folder. Stories' files are left out with the
/// stories, which export does not write.
pub async fn export(pool: &Db, dir: &Path) -> anyhow::Result<Exported> {
    let mut by_page: BTreeMap<String, Vec<VersionRow>> = BTreeMap::new();
    let mut exported = Exported::default();
    let mut files = HashSet::new();
    for (slug, file, version) in all_page_versions(pool).await? {
        if file.hidden {
            continue;
        }
        if !is_plain_name(&file.name) {
            bail!(
                "the file {:?} of /methods/{slug} has a name that is no file name",
                file.name
            );
        }
        let folder = folder(dir, &slug);
        let path = version_path(&folder, version.number, &file.name);
        write_bytes(pool, &version.hash, version.size, &path)
            .await
            .with_context(|| format!("cannot write {}", path.display()))?;
        files.insert(file.id);
        exported.versions += 1;
        by_page.entry(slug).or_default().push(VersionRow {
            name: file.name.clone(),
            version: version.number,
            description: version.description,
            uploaded_by_username: version.uploader_username.unwrap_or_default(),
            created_at: version.created_at,
        });
    }
    for (slug, rows) in &by_page {
        let path = folder(dir, slug).join(VERSIONS_CSV);
        let mut writer = csv::Writer::from_path(&path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        for row in rows {
            writer.serialize(row)?;
        }
        writer
            .flush()
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    exported.pages = by_page.len();
    exported.files = files.len();
    Ok(exported)
}

/// Writes the `size` bytes stored under `hash` to `path`, chunk by chunk.
async fn write_bytes(pool: &Db, hash: &str, size: i64, path: &Path) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut written = 0i64;
    let mut n = 0;
    while written < size {
        let bytes = chunk(pool, hash, n).await?;
        if bytes.is_empty() {
            bail!("the stored bytes end after {written} of {size} bytes");
        }
        out.write_all(&bytes)?;
        written += i64::try_from(bytes.len()).unwrap_or(i64::MAX);
        n += 1;
    }
    out.flush()?;
    Ok(())
}

/// One version to import, checked: its row and what its bytes are. The
/// bytes are read again when it is added, so that a site's worth of files
/// is never held in memory.
#[derive(Debug)]
pub struct Planned {
    pub row: VersionRow,
    pub kind: Kind,
    pub path: PathBuf,
    /// `row.created_at` as stored, or `None` for the time of the import.
    pub at: Option<String>,
}

/// A page's files folder, read and checked.
#[derive(Debug)]
pub struct PageFiles {
    /// The name of the page file the folder goes with (`SLUG` of `SLUG.md`).
    pub stem: String,
    /// Every version listed, by name and then number.
    pub versions: Vec<Planned>,
}

/// What reading the files folders found.
#[derive(Debug, Default)]
pub struct Read {
    pub pages: Vec<PageFiles>,
    /// What makes the import refuse, each naming its file.
    pub errors: Vec<String>,
    /// What the operator should know but does not stop the import.
    pub notes: Vec<String>,
}

/// Reads and checks every `SLUG.files` folder of `dir`: each version
/// listed must be there, with a name Cafe stores and bytes of the type
/// its name says (`kind::decide`, as for an upload). Every problem is
/// reported, naming its file, so that one run shows them all.
pub fn read(dir: &Path) -> anyhow::Result<Read> {
    let mut read = Read::default();
    let mut folders: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?.to_owned();
            let stem = name.strip_suffix(FOLDER_SUFFIX)?.to_owned();
            Some((stem, path))
        })
        .collect();
    folders.sort();
    for (stem, path) in folders {
        match read_folder(&stem, &path, &mut read.notes) {
            Ok(versions) => read.pages.push(PageFiles { stem, versions }),
            Err(errors) => read.errors.extend(errors),
        }
    }
    Ok(read)
}

/// One folder's versions, or everything wrong with it.
fn read_folder(
    stem: &str,
    folder: &Path,
    notes: &mut Vec<String>,
) -> Result<Vec<Planned>, Vec<String>> {
    let shown = format!("{stem}{FOLDER_SUFFIX}");
    let list = folder.join(VERSIONS_CSV);
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(&list)
        .map_err(|e| vec![format!("{shown}/{VERSIONS_CSV}: cannot be read: {e}")])?;
    let mut errors = Vec::new();
    let mut planned = Vec::new();
    let mut seen = HashSet::new();
    for record in reader.deserialize::<VersionRow>() {
        let row = match record {
            Ok(row) => row,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                errors.push(format!("{shown}/{VERSIONS_CSV} line {line}: {e}"));
                continue;
            }
        };
        match check_row(&shown, folder, row) {
            Ok(version) if !seen.insert((version.row.name.clone(), version.row.version)) => {
                errors.push(format!(
                    "{shown}/{VERSIONS_CSV}: version {} of {} is listed twice",
                    version.row.version, version.row.name
                ));
            }
            Ok(version) => planned.push(version),
            Err(error) => errors.push(error),
        }
    }
    for unlisted in unlisted_files(folder, &seen) {
        notes.push(format!(
            "{shown}/{unlisted} is not listed in {VERSIONS_CSV}, so it was not imported"
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    planned.sort_by(|a, b| (&a.row.name, a.row.version).cmp(&(&b.row.name, b.row.version)));
    Ok(planned)
}

/// A row's version, checked against its bytes; `Err` names the file.
fn check_row(shown: &str, folder: &Path, mut row: VersionRow) -> Result<Planned, String> {
    let name = row.name.clone();
    if !is_plain_name(&name) {
        return Err(format!(
            "{shown}/{VERSIONS_CSV}: {name:?} is not a file name"
        ));
    }
    if row.version < 1 {
        return Err(format!(
            "{shown}/{VERSIONS_CSV}: {name} has version {}; versions count from 1",
            row.version
        ));
    }
    let file = format!("{shown}/v{}/{name}", row.version);
    match kind::clean_name(&name) {
        Ok(clean) if clean == name => {}
        Ok(clean) => {
            return Err(format!(
                "{file}: Cafe would store this name as {clean}; rename the file and its row"
            ));
        }
        Err(refusal) => return Err(format!("{file}: {refusal}")),
    }
    row.description =
        crate::markup::text::one_line("The description", &row.description, DESCRIPTION_MAX)
            .map_err(|e| {
                format!(
                    "{shown}/{VERSIONS_CSV}, {name} version {}: {e}",
                    row.version
                )
            })?;
    let at = match row.created_at.as_str() {
        "" => None,
        given => Some(stored_time(given).ok_or_else(|| {
            format!(
                "{shown}/{VERSIONS_CSV}, {name} version {}: created_at {given:?} is not a time \
                 like 2026-11-26T15:34:00Z",
                row.version
            )
        })?),
    };
    let path = version_path(folder, row.version, &name);
    let bytes = std::fs::read(&path).map_err(|e| format!("{file}: cannot be read: {e}"))?;
    let kind = kind::decide(&name, &bytes).map_err(|refusal| format!("{file}: {refusal}"))?;
    Ok(Planned {
        row,
        kind,
        path,
        at,
    })
}

/// An RFC 3339 time as Cafe stores times (UTC, whole seconds), so that
/// the same upload imported twice compares equal.
fn stored_time(given: &str) -> Option<String> {
    use time::format_description::well_known::Rfc3339;
    let parsed = time::OffsetDateTime::parse(given, &Rfc3339).ok()?;
    parsed
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .ok()?
        .format(&Rfc3339)
        .ok()
}

/// Files in `v{N}/` folders that no row lists, as `vN/name`.
fn unlisted_files(folder: &Path, listed: &HashSet<(String, i64)>) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(folder) else {
        return out;
    };
    for entry in entries.filter_map(Result::ok) {
        let folder_name = entry.file_name().to_string_lossy().into_owned();
        let Some(number) = folder_name
            .strip_prefix('v')
            .and_then(|n| n.parse::<i64>().ok())
        else {
            continue;
        };
        let Ok(files) = std::fs::read_dir(entry.path()) else {
            continue;
        };
        for file in files.filter_map(Result::ok) {
            let name = file.file_name().to_string_lossy().into_owned();
            if !listed.contains(&(name.clone(), number)) {
                out.push(format!("{folder_name}/{name}"));
            }
        }
    }
    out.sort();
    out
}

/// The ids of the uploaders the folders name who have an account here,
/// looked up before the import's transaction starts.
pub async fn uploaders(pool: &Db, pages: &[PageFiles]) -> sqlx::Result<HashMap<String, i64>> {
    let mut ids = HashMap::new();
    let names: HashSet<&str> = pages
        .iter()
        .flat_map(|page| &page.versions)
        .map(|version| version.row.uploaded_by_username.as_str())
        .filter(|name| !name.is_empty())
        .collect();
    for name in names {
        if let Some(profile) = crate::accounts::db::profile(pool, name).await? {
            ids.insert(name.to_owned(), profile.id);
        }
    }
    Ok(ids)
}

/// What adding a page's files did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Added {
    pub added: usize,
    pub already: usize,
}

/// Adds to the page `page_id` the versions of `files` it does not have
/// yet, inside the import's transaction, then renders the page again (its
/// text may show them) and records one event in recent changes.
///
/// A version is already there when the file has a version of the same
/// number with the same bytes, or one with the same bytes, time and
/// description (which an earlier import appended under a later number; a
/// member who uploads the first bytes again within the second gives
/// another description, or the same version twice): so
/// importing an export twice adds nothing. Any other version is appended
/// as the file's next version. The bytes are stored as they are in the
/// folder: an exported image was cleaned when it was uploaded, and
/// cleaning it again could only lose quality; `kind::clean` is asked only
/// for its size in pixels and its thumbnail.
pub async fn add_to_page(
    tx: &mut Tx,
    page_id: i64,
    files: &PageFiles,
    uploaders: &HashMap<String, i64>,
    notes: &mut Vec<String>,
) -> anyhow::Result<Added> {
    let owner = Owner::page(page_id);
    let mut done = Added::default();
    let mut names: Vec<&str> = Vec::new();
    let mut stored: Option<(&str, Vec<StoredVersion>)> = None;
    let now = crate::clock::now();
    for version in &files.versions {
        let row = &version.row;
        let shown = format!(
            "{}{FOLDER_SUFFIX}/v{}/{}",
            files.stem, row.version, row.name
        );
        if stored.as_ref().is_none_or(|(name, _)| *name != row.name) {
            stored = Some((&row.name, versions_in(tx, owner, &row.name).await?));
        }
        let Some((_, existing)) = stored.as_mut() else {
            continue;
        };
        let bytes = std::fs::read(&version.path).with_context(|| format!("cannot read {shown}"))?;
        let hash = hash_of(&bytes);
        let at = version.at.as_deref().unwrap_or(&now);
        let there = existing.iter().any(|stored| {
            stored.hash == hash
                && (stored.number == row.version
                    || (stored.created_at == at && stored.description == row.description))
        });
        if there {
            done.already += 1;
            continue;
        }
        let clean = clean_keeping_bytes(version.kind, bytes)
            .await
            .with_context(|| format!("{shown} was refused; nothing was imported"))?;
        let uploaded_by = uploaders.get(&row.uploaded_by_username).copied();
        if uploaded_by.is_none() && !row.uploaded_by_username.is_empty() {
            notes.push(format!(
                "{shown}: there is no member {} here, so it has no uploader",
                row.uploaded_by_username
            ));
        }
        let upload = Upload {
            name: &row.name,
            description: &row.description,
            clean: &clean,
            uploaded_by,
            at,
        };
        let added = add_in(tx, owner, &upload).await?;
        existing.push(StoredVersion {
            number: added.number,
            hash,
            created_at: at.to_owned(),
            description: row.description.clone(),
        });
        done.added += 1;
        if !names.contains(&row.name.as_str()) {
            names.push(&row.name);
        }
    }
    if done.added > 0 {
        crate::pages::db::rerender_for_files(tx, page_id).await?;
        let summary = format!("Imported {}", names.join(", "));
        record(
            tx,
            NewEvent::new(crate::recent::Kind::File, None, &summary).on_page(page_id),
        )
        .await?;
    }
    Ok(done)
}

/// `bytes` as they are, with what `kind::clean` finds in them (the size
/// in pixels and the thumbnail of an image), on the blocking pool.
async fn clean_keeping_bytes(found: Kind, bytes: Vec<u8>) -> anyhow::Result<Clean> {
    let copy = bytes.clone();
    let cleaned = tokio::task::spawn_blocking(move || kind::clean(found, copy))
        .await
        .context("the file could not be read")??;
    Ok(Clean {
        kind: found,
        bytes,
        width: cleaned.width,
        height: cleaned.height,
        thumbnail: cleaned.thumbnail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_lies_in_its_numbered_folder_under_its_own_name() {
        let folder = folder(Path::new("out"), "peer-assist");
        assert_eq!(folder, Path::new("out/peer-assist.files"));
        assert_eq!(
            version_path(&folder, 2, "guide.pdf"),
            Path::new("out/peer-assist.files/v2/guide.pdf")
        );
    }

    #[test]
    fn only_a_plain_file_name_is_a_name() {
        assert!(is_plain_name("guide.pdf"));
        assert!(is_plain_name("Café (2).pdf"));
        for bad in [
            "",
            ".",
            "..",
            "../x.pdf",
            "a/b.pdf",
            "/etc/passwd",
            "./x.pdf",
        ] {
            assert!(!is_plain_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn times_are_stored_in_utc_to_the_second() {
        assert_eq!(
            stored_time("2026-11-26T16:34:09.5+01:00").as_deref(),
            Some("2026-11-26T15:34:09Z")
        );
        assert_eq!(
            stored_time("2026-11-26T15:34:09Z").as_deref(),
            Some("2026-11-26T15:34:09Z")
        );
        assert_eq!(stored_time("yesterday"), None);
    }

    #[test]
    fn the_versions_list_reads_back_what_export_writes() {
        let row = VersionRow {
            name: "guide, final.pdf".to_owned(),
            version: 2,
            description: "Revised: \"after\" the first round".to_owned(),
            uploaded_by_username: "amina".to_owned(),
            created_at: "2026-11-26T15:34:09Z".to_owned(),
        };
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.serialize(&row).expect("row");
        let text = String::from_utf8(writer.into_inner().expect("flush")).expect("utf-8");
        assert!(
            text.starts_with("name,version,description,uploaded_by_username,created_at\n"),
            "{text}"
        );
        let back: Vec<VersionRow> = csv::Reader::from_reader(text.as_bytes())
            .deserialize()
            .collect::<Result<_, _>>()
            .expect("read");
        assert_eq!(back, [row]);
        // A list written by hand may give only the name and the version.
        let short: Vec<VersionRow> = csv::Reader::from_reader("name,version\nx.pdf,1\n".as_bytes())
            .deserialize()
            .collect::<Result<_, _>>()
            .expect("read");
        assert_eq!(short[0].description, "");
    }
}
