//! Benchmark corpus generator: loads N method pages (with stories, replies,
//! roster entries and a few bench users) straight into a Cafe database.
//!
//! cargo run --release --example bench_corpus -- --db bench/out/bench.db --pages 1000 --out bench/out
//!
//! `--db` may also be a PostgreSQL URL (`postgres://USER:PASS@HOST:PORT/DB`):
//! the same rows go in through the same statements, and the schema's
//! triggers (migrations/postgres) do what SQLite's do. A database that
//! already has a `pages` table is refused unless `--replace` is given, which
//! drops the database and creates it again (the role needs CREATEDB; this
//! is what removing the file is for SQLite). The load's connection commits
//! with `synchronous_commit=off`, and ends with `VACUUM (ANALYZE)`.
//!
//! Writes, next to the database, the lists the load scripts read:
//! `slugs.tsv` (every generated page: slug, then the slug percent-encoded for
//! URLs), `history_slugs.txt` (pages with many revisions, percent-encoded), `tag_pairs.txt` (two-tag filters), `queries.txt` (search
//! queries: words, phrases, prefixes) and `users.txt` (`username password`).
//!
//! The database is the one the server would have made had every page been
//! created and saved, and every story, reply and roster entry posted,
//! through its write paths (`pages::db::create_in` and `save_in`,
//! `stories::db`, `roster::db`). This generator used to call those, which
//! took 198 s for 100,000 pages: eleven statements per page, each a round
//! trip to the connection's worker thread, and one page rendered at a time.
//! Now the schema and seed still come from the library (`seed::open_and_seed`
//! runs every migration), and the accounts from `accounts::db::create`; the
//! pages' HTML comes from the library's renderer (`markdown::render`), on
//! every core, while the rows go in by the hundred per statement, with the
//! ids and in the order the write paths would have given them. The schema's
//! triggers fill the search index, `tag_counts`, `tag_story_counts` and the
//! content clock as they do for those writes; `main` notes what they
//! cannot see. Timestamps are the time of the load, as before.
//!
//! Generation only: the load's connection runs without a journal and with
//! `synchronous=OFF`; the file is switched back to WAL at the end, and the
//! server opens it with its own pragmas (`synchronous=FULL`).

use std::borrow::Cow;
use std::collections::{HashSet, VecDeque};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions as _, PgPool, QueryBuilder, SqlitePool};

use cafe::db::{Backend, Db, Tx};

use cafe::accounts::Username;
use cafe::pages::{PageText, Slug, normalise_body};
use cafe::recent::Kind;
use cafe::roster::EntryText;
use cafe::stories::{Outcome, StoryText};
use cafe::tags::TagList;

/// The password of every generated account (bench editors and members).
const PASSWORD: &str = "bench-password-2026";
/// Accounts the load scripts sign in as.
const BENCH_USERS: usize = 16;
/// Other members who write stories, replies and roster entries.
const MEMBERS: usize = 200;
/// Pages written per transaction (and per line of progress).
const BATCH: usize = 4000;

const ADJECTIVES: &[&str] = &[
    "Participatory",
    "Rapid",
    "Appreciative",
    "Structured",
    "Reflective",
    "Collaborative",
    "Open",
    "Iterative",
    "Community",
    "Adaptive",
    "Inclusive",
    "Remote",
    "Outcome",
    "Peer",
    "Facilitated",
    "Visual",
    "Joint",
    "Narrative",
    "Strategic",
    "Quick",
    "Deep",
    "Shared",
    "Local",
    "Regional",
    "Seasonal",
    "Guided",
    "Field",
    "Digital",
    "Silent",
    "Rotating",
    "Mentored",
    "Cross-team",
    "Youth-led",
    "Women-led",
    "Village",
    "Mobile",
    "Annual",
    "Weekly",
    "Learning",
    "Hybrid",
];
const NOUNS: &[&str] = &[
    "Learning",
    "Story",
    "Budget",
    "Mapping",
    "Outcome",
    "Evidence",
    "Knowledge",
    "Partner",
    "Risk",
    "Harvest",
    "Dialogue",
    "Feedback",
    "Journey",
    "Timeline",
    "Network",
    "Inquiry",
    "Reflection",
    "Practice",
    "Decision",
    "Scenario",
    "Stakeholder",
    "Capacity",
    "Lesson",
    "Monitoring",
    "Planning",
    "Listening",
    "Exchange",
    "Coaching",
    "Action",
    "Change",
    "Results",
    "Gender",
    "Power",
    "Problem",
    "Solution",
    "Asset",
    "Horizon",
    "Trust",
    "Value",
    "Impact",
];
const KINDS: &[&str] = &[
    "Review",
    "Circle",
    "Workshop",
    "Walk",
    "Clinic",
    "Café",
    "Retreat",
    "Lab",
    "Sprint",
    "Audit",
    "Forum",
    "Board",
    "Tree",
    "Matrix",
    "Canvas",
    "Diary",
    "Assembly",
    "Session",
    "Huddle",
    "Interview",
    "Survey",
    "Game",
    "Fair",
    "Exercise",
    "Check-in",
    "Debrief",
    "Roundtable",
    "Playbook",
    "Mapping",
    "Log",
];
/// Plain words for prose; some are rare on purpose so searches have a spread of hit counts.
const WORDS: &[&str] = &[
    "team",
    "partners",
    "community",
    "facilitator",
    "learning",
    "evidence",
    "project",
    "office",
    "staff",
    "questions",
    "session",
    "results",
    "change",
    "stories",
    "participants",
    "budget",
    "plan",
    "review",
    "meeting",
    "notes",
    "findings",
    "village",
    "district",
    "women",
    "youth",
    "leaders",
    "volunteers",
    "feedback",
    "report",
    "indicator",
    "baseline",
    "timeline",
    "workshop",
    "practice",
    "method",
    "tools",
    "group",
    "circle",
    "action",
    "decision",
    "trust",
    "listening",
    "harvest",
    "mapping",
    "dialogue",
    "reflection",
    "agenda",
    "monitoring",
    "evaluation",
    "knowledge",
    "sharing",
    "exchange",
    "coaching",
    "mentoring",
    "network",
    "priorities",
    "risks",
    "assumptions",
    "outcomes",
    "impact",
    "context",
    "season",
    "market",
    "school",
    "clinic",
    "water",
    "farmers",
    "cooperative",
    "savings",
    "radio",
    "translation",
    "consent",
    "safeguarding",
    "accessibility",
    "sticky",
    "flipchart",
    "whiteboard",
    "photographs",
    "drawings",
    "interviews",
    "surveys",
    "follow-up",
    "handover",
    "archive",
    "wiki",
    "glossary",
    "checklist",
    "template",
    "calendar",
    "budgeting",
    "procurement",
    "logistics",
    "quarterly",
    "annual",
    "weekly",
    "informal",
    "formal",
    "quiet",
    "energising",
    "careful",
    "candid",
];
const VERBS: &[&str] = &[
    "agree",
    "collect",
    "compare",
    "discuss",
    "document",
    "explore",
    "gather",
    "invite",
    "listen to",
    "map",
    "note",
    "plan",
    "prioritise",
    "question",
    "record",
    "revisit",
    "share",
    "sort",
    "summarise",
    "test",
    "track",
    "vote on",
    "write up",
    "prepare",
    "review",
];
const PLACES: &[&str] = &[
    "Nairobi office",
    "Dhaka field team",
    "Lima project",
    "Kampala office",
    "Hanoi partners",
    "Accra programme",
    "Amman office",
    "Lusaka district team",
    "Quito project",
    "Manila office",
    "",
];
const FREE_TAGS: &[&str] = &[
    "facilitation",
    "remote",
    "workshop",
    "quick win",
    "evaluation",
    "youth",
    "field work",
];

/// Rarer domain terms: made-up but pronounceable words, drawn with a Zipf-like
/// (log-uniform) law, so a term's share of pages ranges from most of them to a
/// handful, as in real prose. Searches pick from the middle of that range.
const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ra", "ven", "to", "sa", "ne", "bi", "du", "fe", "gor", "ha", "ji", "ku",
    "la", "mo", "nu", "pa", "qui", "re", "si", "ta", "vo", "wi", "ya", "ze", "bra", "cle", "dri",
];
const TERMS: usize = 4000;

fn term(rank: usize) -> String {
    // Three syllables from the rank's digits in base 30: distinct for every rank below 27,000.
    let n = SYLLABLES.len();
    format!(
        "{}{}{}",
        SYLLABLES[rank % n],
        SYLLABLES[(rank / n) % n],
        SYLLABLES[(rank / n / n) % n]
    )
}

fn zipf_rank(rng: &mut StdRng) -> usize {
    ((TERMS as f64).powf(rng.random::<f64>()) as usize)
        .saturating_sub(1)
        .min(TERMS - 1)
}

fn word(rng: &mut StdRng) -> String {
    if rng.random_bool(0.3) {
        term(zipf_rank(rng))
    } else {
        (*WORDS.choose(rng).unwrap()).to_owned()
    }
}

fn sentence(rng: &mut StdRng, words: usize) -> String {
    let mut s = String::new();
    let verb = VERBS.choose(rng).unwrap();
    let _ = write!(s, "The {} {verb}", WORDS.choose(rng).unwrap());
    for _ in 0..words {
        s.push(' ');
        s.push_str(&word(rng));
    }
    s.push('.');
    s
}

fn paragraph(rng: &mut StdRng, sentences: usize) -> String {
    (0..sentences)
        .map(|_| {
            let n = rng.random_range(5..12);
            sentence(rng, n)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The i-th generated title; unique for every i.
fn title(i: usize) -> String {
    let a = ADJECTIVES[i % ADJECTIVES.len()];
    let n = NOUNS[(i / ADJECTIVES.len()) % NOUNS.len()];
    let k = KINDS[(i / (ADJECTIVES.len() * NOUNS.len())) % KINDS.len()];
    let round = i / (ADJECTIVES.len() * NOUNS.len() * KINDS.len());
    if round == 0 {
        format!("{a} {n} {k}")
    } else {
        format!("{a} {n} {k} {}", round + 1)
    }
}

/// A ~1.5 KB method page in the method template's shape, with wiki links to
/// pages created before it (so no page ever needs re-linking) and, now and
/// then, a link to a method nobody has written yet.
fn body(rng: &mut StdRng, i: usize, titles: &[String]) -> String {
    let mut b = String::with_capacity(1800);
    let link = |rng: &mut StdRng| -> String {
        if i == 0 {
            "Communities of Practice".to_owned()
        } else {
            titles[rng.random_range(0..i)].clone()
        }
    };
    let _ = writeln!(b, "## Brief Description\n\n{}\n", paragraph(rng, 2));
    b.push_str("## Example Applications\n\n");
    for _ in 0..rng.random_range(2..5) {
        let n = rng.random_range(5..10);
        let _ = writeln!(b, "- {}", sentence(rng, n));
    }
    let _ = write!(
        b,
        "\n## Full Description\n\n{} It works well after a [[{}]]. ",
        paragraph(rng, 3),
        link(rng)
    );
    let _ = writeln!(b, "**Tip:** {}\n", sentence(rng, 6));
    for step in 1..=rng.random_range(3..6) {
        let n = rng.random_range(4..9);
        let _ = writeln!(b, "{step}. {}", sentence(rng, n));
    }
    b.push_str("\n## Related Methods/Tools/Practices\n\n");
    for _ in 0..rng.random_range(2..5) {
        let target = link(rng);
        if rng.random_bool(0.3) {
            let _ = writeln!(b, "- [[{target}|{}]]", target.to_lowercase());
        } else {
            let _ = writeln!(b, "- [[{target}]]");
        }
    }
    if rng.random_bool(0.2) {
        let _ = writeln!(b, "- [[Planned method {}]]", rng.random_range(0..500));
    }
    let _ = write!(
        b,
        "\n## More Information/References/Related Resources\n\n- [Guide to {}](https://example.org/guides/{i})\n- {}\n",
        titles[i].to_lowercase(),
        sentence(rng, 5)
    );
    normalise_body(&b)
}

fn tags(rng: &mut StdRng, indicator_tags: &[String]) -> TagList {
    let n = rng.random_range(3..=6);
    let mut chosen: Vec<String> = indicator_tags.choose_multiple(rng, n).cloned().collect();
    if rng.random_bool(0.25) {
        chosen.push((*FREE_TAGS.choose(rng).unwrap()).to_owned());
    }
    TagList::parse(&chosen.join(",")).expect("generated tags are valid")
}

struct Args {
    db: String,
    pages: usize,
    out: PathBuf,
    seed: u64,
    /// PostgreSQL: drop the database and make it anew if it exists.
    replace: bool,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        db: "bench/out/bench.db".into(),
        pages: 1000,
        out: "bench/out".into(),
        seed: 6,
        replace: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--db" => args.db = value()?,
            "--pages" => args.pages = value()?.parse()?,
            "--out" => args.out = value()?.into(),
            "--seed" => args.seed = value()?.parse()?,
            "--replace" => args.replace = true,
            _ => anyhow::bail!(
                "usage: bench_corpus [--db FILE|postgres://…] [--pages N] [--out DIR] [--seed N] [--replace]"
            ),
        }
    }
    Ok(args)
}

fn write_lines(path: PathBuf, lines: impl IntoIterator<Item = String>) -> anyhow::Result<()> {
    let mut f = std::io::BufWriter::new(
        std::fs::File::create(&path).with_context(|| format!("{}", path.display()))?,
    );
    for line in lines {
        writeln!(f, "{line}")?;
    }
    f.flush()?;
    Ok(())
}

/// A generated method page: the text and author of each revision, oldest
/// first (the first one created the page, each later one is a save).
struct NewPage {
    id: i64,
    title: String,
    slug: String,
    revisions: Vec<(PageText, i64)>,
}

impl NewPage {
    /// The current text and its author (the page's `updated_by`).
    fn current(&self) -> &(PageText, i64) {
        self.revisions.last().expect("a page has a first revision")
    }
}

/// A generated story with its replies (author, Markdown).
struct NewStory {
    id: i64,
    page_id: i64,
    author: i64,
    text: StoryText,
    replies: Vec<(i64, String)>,
}

/// What happens on a page once all pages exist, in the order the write
/// paths record it: its story (and the replies), then roster joins.
struct PageActivity {
    page_id: i64,
    story: Option<NewStory>,
    roster: Vec<(i64, EntryText)>,
}

/// The stored HTML of a page's current text and the slugs its wiki links
/// point to (its `page_links`).
struct Rendered {
    html: String,
    links: Vec<Slug>,
}

/// Markdown as the save paths render it once every page exists: a wiki link
/// is a real link exactly when its target is one of `slugs`.
///
/// The save paths render against the pages that exist at the time and, when
/// a page is created, re-render the pages whose links point at it
/// (`pages::db::relink`). Nothing is deleted here, so every page, story and
/// reply ends up rendered against the final set of pages, which is what
/// this does, once.
fn render(body: &str, slugs: &HashSet<String>) -> String {
    cafe::markdown::render(body, &|slug| slugs.contains(slug.as_str()))
}

fn render_page(page: &NewPage, slugs: &HashSet<String>) -> Rendered {
    let body = &page.current().0.body;
    Rendered {
        html: render(body, slugs),
        links: cafe::markdown::link_targets(body),
    }
}

/// Rendered stories and replies, in the order of the activity.
struct RenderedActivity {
    stories: Vec<String>,
    replies: Vec<String>,
}

fn render_activity(activity: &[PageActivity], slugs: &HashSet<String>) -> RenderedActivity {
    let stories = activity.iter().filter_map(|a| a.story.as_ref());
    RenderedActivity {
        stories: stories
            .clone()
            .map(|s| render(&s.text.body, slugs))
            .collect(),
        replies: stories
            .flat_map(|s| &s.replies)
            .map(|(_, body)| render(body, slugs))
            .collect(),
    }
}

/// What the generator is given: who and what the pages are about.
struct Plan {
    titles: Arc<Vec<String>>,
    /// The slug of each generated page, as `create_in` would give it.
    slugs: Vec<String>,
    /// Every page's slug, the seed pages' included: what links resolve to.
    all_slugs: Arc<HashSet<String>>,
    seed_page_ids: Vec<i64>,
    first_page_id: i64,
    first_story_id: i64,
    members: Vec<i64>,
    indicator_tags: Vec<String>,
}

/// What the generator hands back once every page is sent.
struct Drawn {
    /// Drawn on for the search queries, after everything else.
    rng: StdRng,
    history_slugs: Vec<String>,
    revisions: usize,
    /// Revisions after the first, each a `save_in` of the page.
    saves: i64,
    activity: Vec<PageActivity>,
    rendered: RenderedActivity,
}

/// Draws the corpus from `rng` in the order the old per-page load drew it,
/// so a seed still gives the same corpus: pages (2% of them with 3–12 more
/// revisions), sent `RENDER_CHUNK` at a time, then the stories (one page in
/// 8), replies (about three per four stories) and roster entries (one page
/// in 6) over the seed pages and the generated ones, rendered here while
/// the last pages are written.
fn draw(
    mut rng: StdRng,
    plan: Plan,
    pages: tokio::sync::mpsc::Sender<Vec<NewPage>>,
) -> anyhow::Result<Drawn> {
    let mut history_slugs = Vec::new();
    let (mut revisions, mut saves) = (0, 0);
    let mut chunk = Vec::with_capacity(RENDER_CHUNK);
    for (i, slug) in plan.slugs.into_iter().enumerate() {
        let text = PageText {
            body: body(&mut rng, i, &plan.titles),
            tags: tags(&mut rng, &plan.indicator_tags),
            summary: String::new(),
        };
        let author = *plan.members.choose(&mut rng).unwrap();
        let mut page = NewPage {
            id: plan.first_page_id + i as i64,
            title: plan.titles[i].clone(),
            slug,
            revisions: vec![(text, author)],
        };
        if rng.random_bool(0.02) {
            // i64, the type of the revision number `save_in` took: the
            // range's type decides how many random bits are drawn.
            for n in 1..=rng.random_range(3i64..=12) {
                let current = &page.current().0;
                let mut next = current.body.clone();
                let _ = writeln!(next, "\nUpdate {n}: {}", sentence(&mut rng, 8));
                let edit = PageText {
                    body: normalise_body(&next),
                    tags: current.tags.clone(),
                    summary: format!("Update {n}"),
                };
                let author = *plan.members.choose(&mut rng).unwrap();
                page.revisions.push((edit, author));
                saves += 1;
            }
            history_slugs.push(page.slug.clone());
        }
        revisions += page.revisions.len();
        chunk.push(page);
        if chunk.len() == RENDER_CHUNK {
            pages
                .blocking_send(std::mem::take(&mut chunk))
                .context("the writer stopped")?;
        }
    }
    if !chunk.is_empty() {
        pages.blocking_send(chunk).context("the writer stopped")?;
    }
    drop(pages);

    let page_ids = plan
        .seed_page_ids
        .iter()
        .copied()
        .chain((0..plan.titles.len()).map(|i| plan.first_page_id + i as i64));
    let members = &plan.members;
    let mut story_id = plan.first_story_id;
    let mut activity = Vec::new();
    for page_id in page_ids {
        let mut story = None;
        if rng.random_bool(1.0 / 8.0) {
            let author = *members.choose(&mut rng).unwrap();
            let text = StoryText {
                title: format!(
                    "How the {} went in the {}",
                    WORDS.choose(&mut rng).unwrap(),
                    WORDS.choose(&mut rng).unwrap()
                ),
                body: normalise_body(&format!(
                    "{}\n\n{}",
                    paragraph(&mut rng, 3),
                    paragraph(&mut rng, 2)
                )),
                outcome: *Outcome::ALL.choose(&mut rng).unwrap(),
                location: (*PLACES.choose(&mut rng).unwrap()).to_owned(),
            };
            let mut replies = Vec::new();
            if rng.random_bool(0.5) {
                for _ in 0..rng.random_range(1..=2) {
                    let who = *members.choose(&mut rng).unwrap();
                    replies.push((who, normalise_body(&paragraph(&mut rng, 2))));
                }
            }
            story = Some(NewStory {
                id: story_id,
                page_id,
                author,
                text,
                replies,
            });
            story_id += 1;
        }
        let mut roster = Vec::new();
        if rng.random_bool(1.0 / 6.0) {
            let mut who: Vec<i64> = members.clone();
            who.shuffle(&mut rng);
            for user in who.into_iter().take(rng.random_range(1..=2)) {
                let entry = EntryText {
                    tip: sentence(&mut rng, 6),
                    location: (*PLACES.choose(&mut rng).unwrap()).to_owned(),
                };
                roster.push((user, entry));
            }
        }
        if story.is_some() || !roster.is_empty() {
            activity.push(PageActivity {
                page_id,
                story,
                roster,
            });
        }
    }
    let rendered = render_activity(&activity, &plan.all_slugs);
    Ok(Drawn {
        rng,
        history_slugs,
        revisions,
        saves,
        activity,
        rendered,
    })
}

/// The most parameters SQLite binds in one statement (`SQLITE_MAX_VARIABLE_NUMBER`;
/// PostgreSQL takes up to 65,535).
const MAX_PARAMETERS: usize = 32_766;

/// A value of a generated row, bound as is on either backend.
#[derive(Clone, Copy)]
enum Val<'a> {
    Int(i64),
    MaybeInt(Option<i64>),
    Text(&'a str),
}

impl From<i64> for Val<'_> {
    fn from(v: i64) -> Self {
        Val::Int(v)
    }
}

impl From<Option<i64>> for Val<'_> {
    fn from(v: Option<i64>) -> Self {
        Val::MaybeInt(v)
    }
}

impl<'a> From<&'a str> for Val<'a> {
    fn from(v: &'a str) -> Self {
        Val::Text(v)
    }
}

/// Inserts `rows`, as many per statement as SQLite binds: each statement is
/// a round trip to the connection's worker thread (the old load made eleven
/// per page). `row` puts one row's values, in the columns' order, in the
/// vector it is given.
async fn insert_rows<'a, T>(
    tx: &mut Tx,
    head: &'static str,
    columns: usize,
    rows: &'a [T],
    mut row: impl FnMut(&mut Vec<Val<'a>>, &'a T),
) -> sqlx::Result<()> {
    let mut values = Vec::with_capacity(columns);
    for chunk in rows.chunks(MAX_PARAMETERS / columns) {
        cafe::on_tx!(&mut *tx, |conn| {
            let mut query = QueryBuilder::new(head);
            query.push_values(chunk, |mut bound, item| {
                values.clear();
                row(&mut values, item);
                debug_assert_eq!(values.len(), columns);
                for value in values.drain(..) {
                    match value {
                        Val::Int(v) => bound.push_bind(v),
                        Val::MaybeInt(v) => bound.push_bind(v),
                        Val::Text(v) => bound.push_bind(v),
                    };
                }
            });
            // Row counts vary, and with them the text: not worth caching.
            query.build().persistent(false).execute(&mut *conn).await?;
        });
    }
    Ok(())
}

/// An `events` row, as `recent::db::record` writes it.
struct Event<'a> {
    kind: Kind,
    page_id: i64,
    story_id: Option<i64>,
    revision: Option<i64>,
    actor_id: i64,
    summary: Cow<'a, str>,
}

async fn insert_events(tx: &mut Tx, events: &[Event<'_>], now: &str) -> sqlx::Result<()> {
    insert_rows(
        tx,
        "INSERT INTO events (kind, page_id, story_id, revision, actor_id, summary, created_at) ",
        7,
        events,
        |row, e| {
            row.extend([
                Val::from(e.kind.as_str()),
                Val::from(e.page_id),
                Val::from(e.story_id),
                Val::from(e.revision),
                Val::from(e.actor_id),
                Val::from(e.summary.as_ref()),
                Val::from(now),
            ]);
        },
    )
    .await
}

/// Writes pages as `pages::db::create_in` and then `save_in` for each later
/// revision would leave them: the current row (body, tags, HTML, revision
/// number, last editor), every revision, the tags and links of the current
/// text, and a `page` event then an `edit` event per save, with the ids
/// those would get. The triggers on `pages` and `page_tags` fill the search
/// index and the counters as they would; the one thing they cannot see is
/// the `UPDATE` each save makes, which `main` adds to the content clock's tick.
async fn insert_pages(tx: &mut Tx, pages: &[NewPage], rendered: &[Rendered]) -> sqlx::Result<()> {
    let now = cafe::clock::now();
    let current: Vec<(&NewPage, &Rendered, String)> = pages
        .iter()
        .zip(rendered)
        .map(|(page, r)| (page, r, page.current().0.tags.to_stored()))
        .collect();
    insert_rows(
        tx,
        "INSERT INTO pages (id, slug, title, revision, body, html, tags, created_at, updated_at, updated_by) ",
        10,
        &current,
        |row, (page, r, tags)| {
            let (text, author) = page.current();
            row.extend([Val::from(page.id), Val::from(page.slug.as_str()), Val::from(page.title.as_str()), Val::from(page.revisions.len() as i64), Val::from(text.body.as_str()), Val::from(r.html.as_str()), Val::from(tags.as_str()), Val::from(now.as_str()), Val::from(now.as_str()), Val::from(*author)]);
        },
    )
    .await?;

    let revisions: Vec<(&NewPage, i64, &PageText, i64, String)> = pages
        .iter()
        .flat_map(|page| {
            (1..)
                .zip(&page.revisions)
                .map(move |(number, (text, author))| {
                    (page, number, text, *author, text.tags.to_stored())
                })
        })
        .collect();
    insert_rows(
        tx,
        "INSERT INTO revisions (page_id, number, title, body, tags, summary, author_id, created_at) ",
        8,
        &revisions,
        |row, (page, number, text, author, tags)| {
            row.extend([Val::from(page.id), Val::from(*number), Val::from(page.title.as_str()), Val::from(text.body.as_str()), Val::from(tags.as_str()), Val::from(text.summary.as_str()), Val::from(*author), Val::from(now.as_str())]);
        },
    )
    .await?;

    let tags: Vec<(i64, &str)> = pages
        .iter()
        .flat_map(|page| page.current().0.tags.iter().map(|t| (page.id, t.as_str())))
        .collect();
    insert_rows(
        tx,
        "INSERT INTO page_tags (page_id, tag) ",
        2,
        &tags,
        |row, (id, tag)| {
            row.extend([Val::from(*id), Val::from(*tag)]);
        },
    )
    .await?;

    let links: Vec<(i64, &str)> = pages
        .iter()
        .zip(rendered)
        .flat_map(|(page, r)| r.links.iter().map(|slug| (page.id, slug.as_str())))
        .collect();
    insert_rows(
        tx,
        "INSERT INTO page_links (from_page_id, to_slug) ",
        2,
        &links,
        |row, (id, slug)| {
            row.extend([Val::from(*id), Val::from(*slug)]);
        },
    )
    .await?;

    let events: Vec<Event> = revisions
        .iter()
        .map(|(page, number, text, author, _)| Event {
            kind: if *number == 1 { Kind::Page } else { Kind::Edit },
            page_id: page.id,
            story_id: None,
            revision: Some(*number),
            actor_id: *author,
            summary: if *number == 1 && text.summary.is_empty() {
                "Created the page".into()
            } else {
                text.summary.as_str().into()
            },
        })
        .collect();
    insert_events(tx, &events, &now).await
}

/// Writes stories, replies and roster entries as `stories::db::create`,
/// `stories::db::add_reply` and `roster::db::upsert` would (every roster
/// entry is a first join), with their events in the same order.
async fn insert_activity(
    tx: &mut Tx,
    activity: &[PageActivity],
    rendered: &RenderedActivity,
) -> sqlx::Result<()> {
    let now = cafe::clock::now();
    let mut stories: Vec<(&NewStory, &String)> = activity
        .iter()
        .filter_map(|a| a.story.as_ref())
        .zip(&rendered.stories)
        .collect();
    let replies: Vec<(&NewStory, i64, &str, &String)> = stories
        .iter()
        .flat_map(|(s, _)| {
            s.replies
                .iter()
                .map(|(who, body)| (*s, *who, body.as_str()))
        })
        .zip(&rendered.replies)
        .map(|((s, who, body), html)| (s, who, body, html))
        .collect();
    // Newest first: a story's search row is `-id`, and FTS5 writes out what
    // it holds whenever a row comes in below the last one, which in id
    // order made every story a tiny index segment (0.3 ms each). The ids
    // are given, so the rows are the same.
    stories.reverse();
    insert_rows(
        tx,
        "INSERT INTO stories (id, page_id, author_id, title, body, html, outcome, location, revision, created_at, updated_at) ",
        11,
        &stories,
        |row, (s, html)| {
            row.extend([Val::from(s.id), Val::from(s.page_id), Val::from(s.author), Val::from(s.text.title.as_str()), Val::from(s.text.body.as_str()), Val::from(html.as_str()), Val::from(s.text.outcome.as_str()), Val::from(s.text.location.as_str()), Val::from(1i64), Val::from(now.as_str()), Val::from(now.as_str())]);
        },
    )
    .await?;
    stories.reverse();
    insert_rows(
        tx,
        "INSERT INTO story_revisions (story_id, number, title, body, outcome, location, summary, author_id, created_at) ",
        9,
        &stories,
        |row, (s, _)| {
            row.extend([Val::from(s.id), Val::from(1i64), Val::from(s.text.title.as_str()), Val::from(s.text.body.as_str()), Val::from(s.text.outcome.as_str()), Val::from(s.text.location.as_str()), Val::from(""), Val::from(s.author), Val::from(now.as_str())]);
        },
    )
    .await?;
    insert_rows(
        tx,
        "INSERT INTO replies (story_id, author_id, body, html, created_at) ",
        5,
        &replies,
        |row, (s, who, body, html)| {
            row.extend([
                Val::from(s.id),
                Val::from(*who),
                Val::from(*body),
                Val::from(html.as_str()),
                Val::from(now.as_str()),
            ]);
        },
    )
    .await?;
    let roster: Vec<(i64, i64, &EntryText)> = activity
        .iter()
        .flat_map(|a| a.roster.iter().map(|(user, e)| (a.page_id, *user, e)))
        .collect();
    insert_rows(
        tx,
        "INSERT INTO roster (page_id, user_id, tip, location, created_at, updated_at) ",
        6,
        &roster,
        |row, (page_id, user, e)| {
            row.extend([
                Val::from(*page_id),
                Val::from(*user),
                Val::from(e.tip.as_str()),
                Val::from(e.location.as_str()),
                Val::from(now.as_str()),
                Val::from(now.as_str()),
            ]);
        },
    )
    .await?;
    let mut events = Vec::new();
    for a in activity {
        if let Some(s) = &a.story {
            events.push(Event {
                kind: Kind::Story,
                page_id: a.page_id,
                story_id: Some(s.id),
                revision: Some(1),
                actor_id: s.author,
                summary: s.text.title.as_str().into(),
            });
            for (who, _) in &s.replies {
                events.push(Event {
                    kind: Kind::Reply,
                    page_id: a.page_id,
                    story_id: Some(s.id),
                    revision: None,
                    actor_id: *who,
                    summary: format!("Replied to “{}”", s.text.title).into(),
                });
            }
        }
        for (user, _) in &a.roster {
            events.push(Event {
                kind: Kind::Roster,
                page_id: a.page_id,
                story_id: None,
                revision: None,
                actor_id: *user,
                summary: "Joined the roster".into(),
            });
        }
    }
    insert_events(tx, &events, &now).await
}

/// A write transaction on the load's one connection.
async fn begin(db: &Db) -> sqlx::Result<Tx> {
    match db {
        Db::Sqlite(pool) => pool.begin_with("BEGIN IMMEDIATE").await.map(Tx::Sqlite),
        Db::Postgres(pool) => pool.begin().await.map(Tx::Postgres),
    }
}

/// Turns the journal off for the load. Leaving WAL needs the only
/// connection to the file, and right after the seeding pool has closed
/// SQLite now and then answers "database is locked" (once in about 40 runs
/// here; a connection of that pool still closing, it seems): so this tries
/// again for up to five seconds.
async fn leave_wal(pool: &SqlitePool) -> anyhow::Result<()> {
    for _ in 0..500 {
        match sqlx::query_scalar::<_, String>("PRAGMA journal_mode = OFF")
            .fetch_one(pool)
            .await
        {
            Ok(mode) if mode == "off" => return Ok(()),
            Ok(_) => {}
            Err(e) if e.as_database_error().and_then(|d| d.code()).as_deref() == Some("5") => {}
            Err(e) => return Err(e).context("cannot turn the journal off for the load"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    anyhow::bail!("another connection kept the database in WAL mode")
}

/// PostgreSQL: the database `url` names, dropped if it exists and made anew
/// (empty, owned by the URL's role), through the server's `postgres`
/// database: what removing the file is for SQLite. The role needs
/// CREATEDB, and nothing may be connected to the database.
async fn recreate_postgres(url: &str) -> anyhow::Result<()> {
    let options = PgConnectOptions::from_str(url).context("bad PostgreSQL URL")?;
    let name = options
        .get_database()
        .context("the PostgreSQL URL names no database")?
        .to_owned();
    anyhow::ensure!(
        name != "postgres",
        "will not drop the database named postgres"
    );
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    let mut admin = options
        .database("postgres")
        .connect()
        .await
        .with_context(|| {
            format!(
                "cannot connect to the postgres database of {}",
                cafe::db::redacted(url)
            )
        })?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {quoted}"))
        .execute(&mut admin)
        .await
        .with_context(|| format!("cannot drop the database {name}"))?;
    sqlx::query(&format!("CREATE DATABASE {quoted}"))
        .execute(&mut admin)
        .await
        .with_context(|| format!("cannot create the database {name}"))?;
    Ok(())
}

/// PostgreSQL: whether the database already holds a Cafe site (or anything
/// with a `pages` table).
async fn postgres_has_pages(url: &str) -> anyhow::Result<bool> {
    let mut conn = PgConnectOptions::from_str(url)
        .context("bad PostgreSQL URL")?
        .connect()
        .await
        .with_context(|| format!("cannot connect to {}", cafe::db::redacted(url)))?;
    Ok(
        sqlx::query_scalar("SELECT to_regclass('pages') IS NOT NULL")
            .fetch_one(&mut conn)
            .await?,
    )
}

/// Pages per chunk handed from the generator to a render task to the writer.
const RENDER_CHUNK: usize = 500;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let started = Instant::now();
    std::fs::create_dir_all(&args.out)?;
    let backend = Backend::of(&args.db);
    match backend {
        Backend::Sqlite => {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", args.db));
            }
        }
        Backend::Postgres if args.replace => recreate_postgres(&args.db).await?,
        Backend::Postgres => anyhow::ensure!(
            !postgres_has_pages(&args.db).await?,
            "{} has a pages table already; pass --replace to drop the database and make it anew",
            cafe::db::redacted(&args.db)
        ),
    }
    let rng = StdRng::seed_from_u64(args.seed);

    // Schema, seed pages and the indicator table, exactly as a first start makes them.
    let pool = cafe::seed::open_and_seed(&args.db).await?;
    pool.close().await;

    let db = match backend {
        Backend::Sqlite => {
            // One connection for the whole load, without fsync, and without a
            // journal once `leave_wal` has switched it off (a failed load is simply
            // run again). The file goes back to WAL at the end; the server opens it
            // with its own pragmas.
            let options = cafe::db::options(&args.db)?
                .synchronous(SqliteSynchronous::Off)
                .pragma("cache_size", "-262144");
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await?;
            leave_wal(&pool).await?;
            Db::Sqlite(pool)
        }
        Backend::Postgres => {
            // One connection, its commits not waiting for the WAL flush (a
            // failed load is simply run again); the server's connections
            // keep the server's `synchronous_commit`.
            let options =
                PgConnectOptions::from_str(&args.db)?.options([("synchronous_commit", "off")]);
            let pool: PgPool = PgPoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await?;
            Db::Postgres(pool)
        }
    };

    // Accounts: one argon2 hash shared by all (hashing 216 passwords would take seconds).
    let hash = cafe::auth::hash_password(PASSWORD.to_owned()).await?;
    let mut bench_users = Vec::new();
    let mut members = Vec::new();
    for i in 0..BENCH_USERS + MEMBERS {
        let (name, display) = if i < BENCH_USERS {
            (format!("bench{}", i + 1), format!("Bench Editor {}", i + 1))
        } else {
            let m = i - BENCH_USERS + 1;
            (format!("member{m}"), format!("Member {m}"))
        };
        let username = Username::parse(&name).map_err(anyhow::Error::msg)?;
        let id = cafe::accounts::db::create(&db, &username, &display, &hash, false)
            .await
            .map_err(|e| anyhow::anyhow!("cannot create {name}: {e}"))?;
        if i < BENCH_USERS {
            bench_users.push(name)
        } else {
            members.push(id)
        }
    }

    let indicator_tags: Vec<String> = cafe::tags::db::indicators(&db)
        .await?
        .into_iter()
        .filter(|i| !i.retired)
        .map(|i| i.tag)
        .collect();
    anyhow::ensure!(
        indicator_tags.len() >= 6,
        "the indicator table has fewer than 6 indicators"
    );

    // Slugs and ids as `create_in` gives them, one page after another: the
    // title's slug, or the first free `-2`, `-3`… (only a seed page could
    // be in the way); ids follow the seed pages'.
    let seeded: Vec<(i64, String, String)> = cafe::on_db!(&db, |pool| sqlx::query_as(
        "SELECT id, slug, body FROM pages ORDER BY id"
    )
    .fetch_all(pool)
    .await)?;
    let first_page_id = seeded.last().map_or(1, |(id, _, _)| id + 1);
    let first_story_id: i64 = cafe::on_db!(&db, |pool| sqlx::query_scalar(
        "SELECT coalesce(max(id), 0) + 1 FROM stories"
    )
    .fetch_one(pool)
    .await)?;
    let titles: Arc<Vec<String>> = Arc::new((0..args.pages).map(title).collect());
    let mut all_slugs: HashSet<String> = seeded.iter().map(|(_, slug, _)| slug.clone()).collect();
    let mut slugs = Vec::with_capacity(args.pages);
    for title in titles.iter() {
        let base = Slug::from_title(title).context("a generated title without a slug")?;
        let mut slug = base.clone();
        let mut n = 1;
        while all_slugs.contains(slug.as_str()) {
            n += 1;
            slug = base.with_suffix(n);
        }
        all_slugs.insert(slug.to_string());
        slugs.push(slug.to_string());
    }
    let all_slugs = Arc::new(all_slugs);

    // Three stages at once: the generator draws pages in order, render tasks
    // (a few chunks ahead, on every core) turn them into HTML, and this task
    // writes each chunk in order as its rendering is done.
    let (chunks, mut drawn_pages) = tokio::sync::mpsc::channel(4);
    let plan = Plan {
        titles: titles.clone(),
        slugs: slugs.clone(),
        all_slugs: all_slugs.clone(),
        seed_page_ids: seeded.iter().map(|(id, _, _)| *id).collect(),
        first_page_id,
        first_story_id,
        members,
        indicator_tags: indicator_tags.clone(),
    };
    let generator = tokio::task::spawn_blocking(move || draw(rng, plan, chunks));
    let ahead_most = 2 * std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut ahead = VecDeque::new();
    let mut more = true;
    let mut written = 0;
    let mut tx = begin(&db).await?;
    loop {
        while more && ahead.len() < ahead_most {
            match drawn_pages.recv().await {
                Some(pages) => {
                    let all_slugs = all_slugs.clone();
                    ahead.push_back(tokio::task::spawn_blocking(move || {
                        let rendered: Vec<Rendered> =
                            pages.iter().map(|p| render_page(p, &all_slugs)).collect();
                        (pages, rendered)
                    }));
                }
                None => more = false,
            }
        }
        let Some(next) = ahead.pop_front() else { break };
        let (pages, rendered) = next.await?;
        insert_pages(&mut tx, &pages, &rendered).await?;
        written += pages.len();
        if written % BATCH == 0 || written == args.pages {
            tx.commit().await?;
            tx = begin(&db).await?;
            eprint!(
                "\r  {written} / {} pages, {:.1} s",
                args.pages,
                started.elapsed().as_secs_f64()
            );
        }
    }
    eprintln!();
    let Drawn {
        mut rng,
        history_slugs,
        revisions,
        saves,
        activity,
        rendered,
    } = generator.await??;
    anyhow::ensure!(written == args.pages, "the generator stopped early");

    // Each save's UPDATE of the page moved the content clock's tick once
    // more (migrations/sqlite/0009_content_clock.sql); the pages went in as they
    // stand after their last save.
    // (On PostgreSQL too: migrations/postgres/0001_schema.sql, `cafe_touch`.)
    cafe::on_tx!(&mut tx, |conn| sqlx::query(
        "UPDATE content_clock SET tick = tick + $1"
    )
    .bind(saves)
    .execute(&mut *conn)
    .await
    .map(|_| ()))?;
    // What `create_in` does for pages that linked to a new page: re-render
    // them. Only the seed pages could (today none links to a generated title).
    for (id, _, body) in &seeded {
        let html = render(body, &all_slugs);
        cafe::on_tx!(&mut tx, |conn| sqlx::query(
            "UPDATE pages SET html = $1 WHERE id = $2 AND html <> $1"
        )
        .bind(&html)
        .bind(id)
        .execute(&mut *conn)
        .await
        .map(|_| ()))?;
    }
    insert_activity(&mut tx, &activity, &rendered).await?;
    if let Tx::Postgres(tx) = &mut tx {
        // The pages and stories went in with their ids: the identity
        // columns' sequences go past them, as the write paths would leave them.
        for table in ["pages", "stories"] {
            sqlx::query(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                 (SELECT max(id) FROM {table}), true) WHERE EXISTS (SELECT 1 FROM {table})"
            ))
            .execute(&mut **tx)
            .await?;
        }
    }
    tx.commit().await?;
    let size = match &db {
        Db::Sqlite(pool) => {
            // The index as the server's upkeep leaves it after a quiet moment.
            cafe::search::upkeep::merge_all(&db).await?;
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(pool)
                .await?;
            pool.close().await;
            std::fs::metadata(&args.db).map(|m| m.len()).unwrap_or(0)
        }
        Db::Postgres(pool) => {
            // What autovacuum would do after a while: the planner's
            // statistics and the visibility map, before anything is measured.
            sqlx::query("VACUUM (ANALYZE)").execute(pool).await?;
            let size: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
                .fetch_one(pool)
                .await?;
            pool.close().await;
            u64::try_from(size).unwrap_or(0)
        }
    };

    let stories = activity.iter().filter(|a| a.story.is_some()).count();
    let replies = rendered.replies.len();
    let roster: usize = activity.iter().map(|a| a.roster.len()).sum();

    // The lists the load scripts read.
    // Slugs keep letters of any script (`…-café`): URLs need them percent-encoded.
    write_lines(
        args.out.join("slugs.tsv"),
        slugs
            .iter()
            .map(|s| format!("{s}\t{}", cafe::markup::text::url_encode(s))),
    )?;
    write_lines(
        args.out.join("history_slugs.txt"),
        history_slugs
            .iter()
            .map(|s| cafe::markup::text::url_encode(s)),
    )?;
    write_lines(
        args.out.join("users.txt"),
        bench_users.iter().map(|u| format!("{u} {PASSWORD}")),
    )?;
    let mut pairs = Vec::new();
    for (a, x) in indicator_tags.iter().enumerate() {
        for y in &indicator_tags[a + 1..] {
            pairs.push(format!("tag={x}&tag={y}"));
        }
    }
    write_lines(args.out.join("tag_pairs.txt"), pairs)?;
    // Search queries: a third single words (mostly mid-frequency terms, some
    // common words), a third quoted two-word phrases from titles, a third prefixes.
    let mut queries = Vec::new();
    for _ in 0..300 {
        let q = match rng.random_range(0..3) {
            0 if rng.random_bool(0.25) => (*WORDS.choose(&mut rng).unwrap()).to_owned(),
            0 => term(rng.random_range(20..400)),
            1 => {
                let t = &titles[rng.random_range(0..titles.len())];
                let words: Vec<&str> = t.split(' ').take(2).collect();
                format!("\"{}\"", words.join(" ").to_lowercase())
            }
            _ => {
                let w = if rng.random_bool(0.5) {
                    term(rng.random_range(0..400))
                } else {
                    (*WORDS.choose(&mut rng).unwrap()).to_owned()
                };
                format!("{}*", w.chars().take(4).collect::<String>())
            }
        };
        queries.push(cafe::markup::text::url_encode(&q));
    }
    write_lines(args.out.join("queries.txt"), queries)?;

    println!(
        "corpus: {} pages ({} revisions), {stories} stories, {replies} replies, {roster} roster entries, {} users; {:.1} MB; {:.1} s wall",
        slugs.len(),
        revisions,
        BENCH_USERS + MEMBERS,
        size as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
