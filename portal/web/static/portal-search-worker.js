// Material's search worker as the portal serves it: the same messages, answered by the
// portal's own search (GET /api/v1/search), so a site's search box finds every audience
// the reader may read. A site opened from disk keeps Material's own worker (lunr).
//
// Material's protocol (src/.../integrations/search/worker/message): the page sends
// {type: 0 SETUP, data: {config, docs, options}} and {type: 2 QUERY, data: "text"};
// the worker answers {type: 1 READY} and {type: 3 RESULT, data: {items: SearchItem[][]}},
// one list per page, each item {location, title, text, score, terms}. Titles and texts
// are HTML (Material inserts them with innerHTML): the API's snippet is already escaped,
// with the matched words in <mark>.
"use strict";

const SETUP = 0;
const READY = 1;
const QUERY = 2;
const RESULT = 3;
const LIMIT = 50;
const FILTER = /^[a-z]+:/;
// The audience whose site loaded this worker: /docs/<audience>/assets/javascripts/...
const SITE = (self.location.pathname.match(/^\/docs\/([^/]+)\//) || [])[1] || "";

let latest = 0; // the newest query: answers to older ones are dropped
let pending = null; // its AbortController

function escapeHTML(value) {
  return String(value)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

// The words typed (not the kind:/owner: filters): Material adds them to a result's
// link (?h=) so that the page it opens highlights them.
function termsOf(query) {
  const terms = {};
  for (const word of query.replace(/"/g, " ").split(/\s+/)) {
    if (word && !FILTER.test(word)) terms[word.toLowerCase()] = true;
  }
  return terms;
}

// Hits grouped by page, as Material's own worker groups them: the page itself (its
// URL has no #anchor) heads its sections; when it did not match, it is added with
// score 0, like Material does.
function itemsOf(hits, terms) {
  const groups = new Map();
  for (const hit of hits) {
    if (!hit.url) continue;
    const page = hit.url.split("#")[0];
    const path = hit.heading_path.length ? hit.heading_path : [hit.title];
    const item = {
      location: hit.url,
      title: escapeHTML(path[path.length - 1]), // the section's heading; the page heads the list
      text: `<p>${hit.snippet}</p>`,
      score: hit.score,
      terms: terms,
    };
    if (!groups.has(page)) groups.set(page, { title: path[0], items: [] });
    groups.get(page).items.push(item);
  }
  const items = [];
  for (const [page, group] of groups) {
    if (!group.items.some((item) => item.location === page)) {
      group.items.push({ location: page, title: escapeHTML(group.title), text: "", score: 0, terms });
    }
    items.push(group.items);
  }
  return items;
}

async function search(query) {
  const id = ++latest;
  if (pending !== null) pending.abort();
  if (!query.trim()) return { type: RESULT, data: { items: [] } };
  pending = new AbortController();
  // The search box shows no facets: the portal need not count them.
  const params = new URLSearchParams({ q: query, limit: String(LIMIT), facets: "false" });
  if (SITE) params.set("prefer", SITE); // results stay in this site when it has them
  try {
    const response = await fetch(`/api/v1/search?${params}`, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      signal: pending.signal,
    });
    // A query the portal refuses (400: a bad filter) finds nothing, as in Material.
    const body = response.ok ? await response.json() : { hits: [] };
    if (id !== latest) return null;
    return { type: RESULT, data: { items: itemsOf(body.hits, termsOf(query)) } };
  } catch (error) {
    if (id !== latest) return null; // aborted by a newer query
    console.warn(`portal search failed: ${error}`);
    return { type: RESULT, data: { items: [] } };
  }
}

addEventListener("message", async (event) => {
  const message = event.data;
  if (message.type === SETUP) {
    postMessage({ type: READY }); // nothing to index: the portal holds the index
  } else if (message.type === QUERY) {
    const answer = await search(String(message.data));
    if (answer !== null) postMessage(answer);
  }
});
