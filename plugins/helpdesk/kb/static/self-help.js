/* Self-help in the portal: suggest knowledge-base articles as the requester types a subject.
 *
 * The intake form works without this script (its "Search answers" button shows the form
 * again with suggestions). With it, typing in the subject field asks the suggestions route
 * (250 ms after the last key, the last word as a prefix) and shows the articles it returns,
 * each with a "This solved it" button that sends the whole form to the self-help route.
 * Text from the server is only ever set as textContent, never parsed as HTML.
 */
(function () {
  "use strict";
  var panel = document.querySelector("[data-kb-watch]");
  if (!panel || !window.fetch || !window.AbortController) {
    return;
  }
  var form = panel.closest("form");
  var input = form && form.elements.namedItem(panel.getAttribute("data-kb-watch"));
  var results = panel.querySelector("[data-kb-results]");
  if (!input || !results) {
    return;
  }
  var source = panel.getAttribute("data-kb-source");
  var action = panel.getAttribute("data-kb-action");
  var refresh = panel.querySelector("[data-kb-refresh]");
  if (refresh) {  // suggestions come as one types: no need to ask (buttons ignore [hidden])
    refresh.hidden = true;
    refresh.style.display = "none";
  }
  var timer = null;
  var asked = null;
  var pending = null;

  function element(tag, className, text) {
    var made = document.createElement(tag);
    if (className) {
      made.className = className;
    }
    if (text) {
      made.textContent = text;
    }
    return made;
  }

  function excerpt(segments) {
    var paragraph = element("p", "hint");
    segments.forEach(function (segment) {
      paragraph.appendChild(segment.matched ? element("mark", "", segment.text)
        : document.createTextNode(segment.text));
    });
    return paragraph;
  }

  function show(articles, typed) {
    results.textContent = "";
    if (!articles.length) {
      if (typed) {
        results.appendChild(element("p", "hint", "No article matches that yet."));
      }
      return;
    }
    var list = element("ul", "kb-hits");
    articles.forEach(function (article) {
      var item = element("li");
      var link = element("a", "", article.title);
      link.href = article.href;
      link.target = "_blank";
      link.rel = "noopener";
      item.appendChild(link);
      item.appendChild(excerpt(article.excerpt));
      var solved = element("button", "secondary", "This solved it");
      solved.type = "submit";
      solved.name = "article";
      solved.value = String(article.id);
      solved.formAction = action;
      solved.setAttribute("aria-label", "This solved it: " + article.title);
      item.appendChild(solved);
      list.appendChild(item);
    });
    results.appendChild(list);
  }

  function ask() {
    var typed = input.value.trim();
    if (typed === asked) {
      return;
    }
    asked = typed;
    if (pending) {
      pending.abort();
    }
    if (!typed) {
      show([], "");
      return;
    }
    pending = new AbortController();
    fetch(source + "?q=" + encodeURIComponent(typed), {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
      signal: pending.signal
    }).then(function (reply) {
      return reply.ok ? reply.json() : { articles: [] };
    }).then(function (data) {
      show(data.articles || [], typed);
    }).catch(function (problem) {
      if (problem.name !== "AbortError") {
        results.textContent = "Suggestions are not available just now.";
      }
    });
  }

  input.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(ask, 250);
  });
})();
