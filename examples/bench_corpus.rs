//! Benchmark corpus generator: loads N method pages (with stories, replies,
//! roster entries and a few bench users) straight into a Cafe database,
//! through the library's own write paths, so the stored HTML, tags, links and
//! recent-changes events are exactly what the server would have written.
//!
//! cargo run --release --example bench_corpus -- --db bench/out/bench.db --pages 1000 --out bench/out
//!
//! Writes, next to the database, the lists the load scripts read:
//! `slugs.tsv` (every generated page: slug, then the slug percent-encoded for
//! URLs), `history_slugs.txt` (pages with many revisions, percent-encoded), `tag_pairs.txt` (two-tag filters), `queries.txt` (search
//! queries: words, phrases, prefixes) and `users.txt` (`username password`).
//!
//! Generation only: the corpus connection runs with `synchronous=OFF` and a
//! large page cache, and pages are created a few thousand per transaction.
//! The server later opens the file with its own pragmas (WAL, `synchronous=FULL`).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use sqlx::sqlite::{SqlitePoolOptions, SqliteSynchronous};

use cafe::accounts::Username;
use cafe::pages::{PageText, normalise_body};
use cafe::roster::EntryText;
use cafe::stories::{Outcome, StoryText};
use cafe::tags::TagList;

/// The password of every generated account (bench editors and members).
const PASSWORD: &str = "bench-password-2026";
/// Accounts the load scripts sign in as.
const BENCH_USERS: usize = 16;
/// Other members who write stories, replies and roster entries.
const MEMBERS: usize = 200;
/// Pages created per transaction.
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
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        db: "bench/out/bench.db".into(),
        pages: 1000,
        out: "bench/out".into(),
        seed: 6,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--db" => args.db = value()?,
            "--pages" => args.pages = value()?.parse()?,
            "--out" => args.out = value()?.into(),
            "--seed" => args.seed = value()?.parse()?,
            _ => {
                anyhow::bail!("usage: bench_corpus [--db FILE] [--pages N] [--out DIR] [--seed N]")
            }
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

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let started = Instant::now();
    std::fs::create_dir_all(&args.out)?;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", args.db));
    }
    let mut rng = StdRng::seed_from_u64(args.seed);

    // Schema, seed pages and the indicator table, exactly as a first start makes them.
    let pool = cafe::db::open_and_seed(&args.db).await?;
    pool.close().await;

    // One connection for the whole load, durability off while generating (no
    // fsync); the file stays in WAL mode. The server's pragmas are unchanged.
    let options = cafe::db::options(&args.db)?
        .synchronous(SqliteSynchronous::Off)
        .pragma("cache_size", "-262144");
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?;

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
        let id = cafe::accounts::db::create(&pool, &username, &display, &hash, false)
            .await
            .map_err(|e| anyhow::anyhow!("cannot create {name}: {e}"))?;
        if i < BENCH_USERS {
            bench_users.push(name)
        } else {
            members.push(id)
        }
    }

    let indicator_tags: Vec<String> = cafe::tags::db::indicators(&pool)
        .await?
        .into_iter()
        .filter(|i| !i.retired)
        .map(|i| i.tag)
        .collect();
    anyhow::ensure!(
        indicator_tags.len() >= 6,
        "the indicator table has fewer than 6 indicators"
    );

    // Pages, a few thousand per transaction; 2% of them get 3–12 more revisions.
    let titles: Vec<String> = (0..args.pages).map(title).collect();
    let mut slugs = Vec::with_capacity(args.pages);
    let mut history_slugs = Vec::new();
    let mut revisions = 0usize;
    for chunk in (0..args.pages).collect::<Vec<_>>().chunks(BATCH) {
        let mut tx = cafe::db::begin_write(&pool).await?;
        for &i in chunk {
            let text = PageText {
                body: body(&mut rng, i, &titles),
                tags: tags(&mut rng, &indicator_tags),
                summary: String::new(),
            };
            let author = *members.choose(&mut rng).unwrap();
            let slug = cafe::pages::db::create_in(&mut tx, &titles[i], &text, Some(author)).await?;
            revisions += 1;
            if rng.random_bool(0.02) {
                let (id, _) = cafe::pages::db::current_revision_in(&mut tx, &slug)
                    .await?
                    .context("page just made")?;
                let mut current = text;
                for n in 1..=rng.random_range(3..=12) {
                    let mut next = current.body.clone();
                    let _ = writeln!(next, "\nUpdate {n}: {}", sentence(&mut rng, 8));
                    let edit = PageText {
                        body: normalise_body(&next),
                        tags: current.tags.clone(),
                        summary: format!("Update {n}"),
                    };
                    let author = *members.choose(&mut rng).unwrap();
                    cafe::pages::db::save_in(&mut tx, id, n, &edit, Some(author), None).await?;
                    revisions += 1;
                    current = edit;
                }
                history_slugs.push(slug.to_string());
            }
            slugs.push(slug.to_string());
        }
        tx.commit().await?;
        eprint!(
            "\r  {} / {} pages, {:.1} s",
            slugs.len(),
            args.pages,
            started.elapsed().as_secs_f64()
        );
    }
    eprintln!();

    // Stories (one page in 8), replies (about three per four stories), roster entries (one page in 6).
    let ids: Vec<(i64, String)> = sqlx::query_as("SELECT id, slug FROM pages ORDER BY id")
        .fetch_all(&pool)
        .await?;
    let outcomes = Outcome::ALL;
    let (mut stories, mut replies, mut roster) = (0usize, 0usize, 0usize);
    for (page_id, _) in &ids {
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
                outcome: *outcomes.choose(&mut rng).unwrap(),
                location: (*PLACES.choose(&mut rng).unwrap()).to_owned(),
            };
            let story_id = cafe::stories::db::create(&pool, *page_id, author, &text).await?;
            stories += 1;
            if rng.random_bool(0.5) {
                let story = cafe::stories::db::find(&pool, *page_id, story_id)
                    .await?
                    .context("story just made")?;
                for _ in 0..rng.random_range(1..=2) {
                    let who = *members.choose(&mut rng).unwrap();
                    cafe::stories::db::add_reply(
                        &pool,
                        &story,
                        who,
                        &normalise_body(&paragraph(&mut rng, 2)),
                    )
                    .await?;
                    replies += 1;
                }
            }
        }
        if rng.random_bool(1.0 / 6.0) {
            let mut who: Vec<i64> = members.clone();
            who.shuffle(&mut rng);
            for user in who.into_iter().take(rng.random_range(1..=2)) {
                let entry = EntryText {
                    tip: sentence(&mut rng, 6),
                    location: (*PLACES.choose(&mut rng).unwrap()).to_owned(),
                };
                cafe::roster::db::upsert(&pool, *page_id, user, &entry).await?;
                roster += 1;
            }
        }
    }

    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&pool)
        .await?;
    pool.close().await;

    // The lists the load scripts read.
    // Slugs keep letters of any script (`…-café`): URLs need them percent-encoded.
    write_lines(
        args.out.join("slugs.tsv"),
        slugs
            .iter()
            .map(|s| format!("{s}\t{}", cafe::text::url_encode(s))),
    )?;
    write_lines(
        args.out.join("history_slugs.txt"),
        history_slugs.iter().map(|s| cafe::text::url_encode(s)),
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
        queries.push(cafe::text::url_encode(&q));
    }
    write_lines(args.out.join("queries.txt"), queries)?;

    let size = std::fs::metadata(&args.db).map(|m| m.len()).unwrap_or(0);
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
