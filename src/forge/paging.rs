//! Page-numbered list endpoints, read to the end: the one pagination both
//! forges use (GitHub and GitLab both take `per_page` and `page`).

use super::ForgeError;
use std::future::Future;

/// Items per page asked for (GitHub's and GitLab's maximum).
pub const PER_PAGE: usize = 100;

/// `path` with the query for one page (`path` may already carry a query).
pub fn page_url(path: &str, page: usize) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{path}{sep}per_page={PER_PAGE}&page={page}")
}

/// Every item of a list endpoint: fetches page 1, 2, … (each URL from
/// [`page_url`]) until a short page, or `max_pages` pages (the forge's own
/// cap on that list, so a misbehaving server cannot keep us looping).
pub async fn collect_pages<T, F, Fut>(
    path: &str,
    max_pages: usize,
    mut fetch: F,
) -> Result<Vec<T>, ForgeError>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<Vec<T>, ForgeError>>,
{
    let mut all = Vec::new();
    for page in 1..=max_pages {
        let items = fetch(page_url(path, page)).await?;
        let n = items.len();
        all.extend(items);
        if n < PER_PAGE {
            break;
        }
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_urls_keep_an_existing_query() {
        assert_eq!(page_url("/a", 2), "/a?per_page=100&page=2");
        assert_eq!(page_url("/a?x=1", 1), "/a?x=1&per_page=100&page=1");
    }

    #[tokio::test]
    async fn pages_are_read_until_a_short_one_or_the_cap() {
        let mut asked = Vec::new();
        let all: Vec<usize> = collect_pages("/l", 30, |url| {
            asked.push(url);
            let n = if asked.len() < 3 { PER_PAGE } else { 7 };
            async move { Ok(vec![0; n]) }
        })
        .await
        .unwrap_or_default();
        assert_eq!(all.len(), 2 * PER_PAGE + 7);
        assert_eq!(asked.len(), 3);

        let mut pages = 0;
        let capped: Vec<usize> = collect_pages("/l", 2, |_| {
            pages += 1;
            async { Ok(vec![0; PER_PAGE]) }
        })
        .await
        .unwrap_or_default();
        assert_eq!((pages, capped.len()), (2, 2 * PER_PAGE));
    }
}
