/* Kundenportal – small enhancements. Every page works without them: the server does the same
   checks, and the forms submit as plain HTML forms. No inline script (the CSP allows 'self'). */
(function () {
  "use strict";

  /* An error summary (or the "Meinten Sie …?" notice) takes the focus, so it is read first. */
  function focusSummary() {
    var summary = document.querySelector('.alert[role="alert"][tabindex="-1"]');
    if (summary) {
      summary.focus();
    }
  }

  /* "Passwort anzeigen": one toggle button after every password field. */
  function addPasswordToggles() {
    var fields = document.querySelectorAll('input[type="password"]');
    Array.prototype.forEach.call(fields, function (input) {
      if (!input.id) {
        return;
      }
      var button = document.createElement("button");
      button.type = "button";
      button.className = "button button-toggle";
      button.setAttribute("aria-controls", input.id);
      button.setAttribute("aria-pressed", "false");
      button.textContent = "Passwort anzeigen";
      button.addEventListener("click", function () {
        var show = input.type === "password";
        input.type = show ? "text" : "password";
        button.setAttribute("aria-pressed", show ? "true" : "false");
        button.textContent = show ? "Passwort verbergen" : "Passwort anzeigen";
      });
      input.insertAdjacentElement("afterend", button);
      if (input.form) {
        // The browser should not keep a shown password as plain text in its form history.
        input.form.addEventListener("submit", function () {
          input.type = "password";
        });
      }
    });
  }

  /* The same rules as services/gateway/typos.py. */
  function distance(a, b) {
    var prev2 = [], prev = [], cur, i, j;
    for (j = 0; j <= b.length; j++) {
      prev.push(j);
    }
    for (i = 1; i <= a.length; i++) {
      cur = [i];
      for (j = 1; j <= b.length; j++) {
        cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
        if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
          cur[j] = Math.min(cur[j], prev2[j - 2] + 1);
        }
      }
      prev2 = prev;
      prev = cur;
    }
    return prev[b.length];
  }

  function split(domain) {
    var dot = domain.lastIndexOf(".");
    return [domain.slice(0, dot), domain.slice(dot + 1)];
  }

  function suggestDomain(domain, known) {
    domain = domain.trim().toLowerCase().replace(/\.+$/, "");
    if (!domain || known.indexOf(domain) >= 0) {
      return null;
    }
    if (domain.indexOf(".") < 0) {
      for (var k = 0; k < known.length; k++) {
        if (known[k].replace(/\./g, "") === domain) {
          return known[k];
        }
      }
      return null;
    }
    var parts = split(domain), best = null, bestCost = 99;
    known.forEach(function (candidate) {
      var kparts = split(candidate);
      var nameEdits = distance(parts[0], kparts[0]), tldEdits = distance(parts[1], kparts[1]);
      var cost = null;
      if (kparts[0].length <= 4) {
        cost = nameEdits + tldEdits <= 1 ? nameEdits + tldEdits : null;
      } else {
        cost = nameEdits + Math.min(tldEdits, 1);
        cost = nameEdits <= 2 && cost <= 2 ? cost : null;
      }
      if (cost !== null && cost < bestCost) {
        best = candidate;
        bestCost = cost;
      }
    });
    return best;
  }

  function suggest(email, known) {
    var at = email.trim().lastIndexOf("@");
    if (at < 1) {
      return null;
    }
    var better = suggestDomain(email.trim().slice(at + 1), known);
    return better ? email.trim().slice(0, at + 1) + better : null;
  }

  /* "Meinten Sie …?" as soon as the e-mail field is left, before the form is sent. */
  function addTypoHints() {
    var form = document.querySelector("form[data-mail-domains]");
    var input = form && form.querySelector('input[name="email"]');
    if (!input || document.getElementById("email-vorschlag")) {
      return; // the server already asks
    }
    var known = form.getAttribute("data-mail-domains").split(/\s+/);
    var hint = document.createElement("div");
    hint.className = "typo";
    hint.id = "email-vorschlag-live";
    hint.setAttribute("aria-live", "polite"); // not role=status: the page keeps one status, its notice
    input.parentNode.appendChild(hint);
    var describedBy = input.getAttribute("aria-describedby") || "";
    var confirmed = null;
    var shownFor = null;

    function clear() {
      shownFor = null;
      while (hint.firstChild) {
        hint.removeChild(hint.firstChild);
      }
      input.setAttribute("aria-describedby", describedBy);
    }

    function keepAsTyped(value) {
      confirmed = value;
      var marker = form.querySelector('input[name="email_confirmed_for"]');
      if (!marker) {
        marker = document.createElement("input");
        marker.type = "hidden";
        marker.name = "email_confirmed_for";
        form.appendChild(marker);
      }
      marker.value = value;
    }

    function button(text, primary, action) {
      var element = document.createElement("button");
      element.type = "button";
      element.className = primary ? "button button-primary" : "button";
      element.textContent = text;
      element.addEventListener("click", action);
      return element;
    }

    function check() {
      var value = input.value.trim();
      if (value === shownFor) {
        return; // already asked (the blur when a hint button is pressed must not rebuild it)
      }
      clear();
      var better = value && value !== confirmed ? suggest(value, known) : null;
      if (!better) {
        return;
      }
      var question = document.createElement("p");
      question.className = "typo-question";
      question.appendChild(document.createTextNode("Meinten Sie "));
      var strong = document.createElement("strong");
      strong.textContent = better;
      question.appendChild(strong);
      question.appendChild(document.createTextNode("?"));
      var actions = document.createElement("p");
      actions.className = "typo-actions";
      actions.appendChild(button("Ja, " + better + " verwenden", true, function () {
        input.value = better;
        clear();
        input.focus();
      }));
      actions.appendChild(button("Nein, die Adresse ist richtig", false, function () {
        keepAsTyped(value);
        clear();
        input.focus();
      }));
      hint.appendChild(question);
      hint.appendChild(actions);
      shownFor = value;
      input.setAttribute("aria-describedby", (describedBy + " " + hint.id).trim());
    }

    input.addEventListener("blur", check);
    input.addEventListener("input", function () {
      if (hint.firstChild) {
        clear();
      }
    });
  }

  if (typeof document === "undefined") { // node, in the unit tests: the rules alone
    module.exports = { suggest: suggest };
    return;
  }

  function start() {
    addPasswordToggles();
    addTypoHints();
    focusSummary();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
