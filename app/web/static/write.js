// A write to the API from the setup pages (onboarding, categories): JSON, with the API token
// when the service has one; on a 401 the page asks for the token once and keeps it in this
// browser (the same key as the day page's app.js).
window.arxivRecoWrite = async function (method, url, body) {
  const TOKEN_KEY = "arxiv-reco-token";
  for (let attempt = 0; attempt < 2; attempt++) {
    const headers = { "Content-Type": "application/json" };
    const token = localStorage.getItem(TOKEN_KEY);
    if (token) headers["Authorization"] = "Bearer " + token;
    const response = await fetch(url, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status !== 401) return response;
    const given = window.prompt("This service needs its API token to save changes:");
    if (!given) return response;
    localStorage.setItem(TOKEN_KEY, given.trim());
  }
  return null;
};

// The detail of an API error as one sentence: a 422's list of messages, or the detail itself.
window.arxivRecoProblem = async function (response) {
  if (!response) return "no answer from the service";
  try {
    const detail = (await response.json()).detail;
    if (Array.isArray(detail)) return detail.map((d) => d.msg.replace(/^Value error, /, "")).join("; ");
    return String(detail);
  } catch (error) {
    return "the service answered " + response.status;
  }
};
