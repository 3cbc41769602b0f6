// The desk's only script, and the pages work without it: it keeps the case page's history,
// status, assignee, tier and «who else has it open» current from the case's event stream
// (/cases/<id>/live), keeps the queue's rows current from the queue's stream (/queue/live), and
// puts a canned reply into the reply field without reloading the page.
(function () {
  "use strict";

  function setText(id, text) {
    var element = document.getElementById(id);
    if (element && text !== null && text !== undefined) {
      element.textContent = text;
    }
  }

  // The desk ends a stream with `end` when the session ends or the case service refuses.
  function closeOnEnd(source) {
    source.addEventListener("end", function () {
      source.close();
    });
  }

  function followCase(history) {
    var url = history.getAttribute("data-live");
    if (!url || !window.EventSource) {
      return;
    }
    var source = new EventSource(url);
    source.addEventListener("change", function (message) {
      var change = JSON.parse(message.data);
      // After a reconnection the stream may repeat a line the page already shows.
      if (history.querySelector('li[data-version="' + change.version + '"]')) {
        return;
      }
      history.insertAdjacentHTML("beforeend", change.html);
      setText("status", change.status);
      setText("assignee", change.assignee);
      setText("tier", change.tier);
    });
    source.addEventListener("presence", function (message) {
      setText("viewers", JSON.parse(message.data).text);
    });
    closeOnEnd(source);
  }

  // The row goes where the case service's order puts it (rows carry their order key); a row
  // that belongs after the last one while further pages exist is on a later page.
  function placeRow(table, html, order) {
    var body = table.tBodies[0];
    var holder = document.createElement("tbody");
    holder.innerHTML = html;
    var row = holder.firstElementChild;
    var rows = body.rows;
    for (var i = 0; i < rows.length; i++) {
      if (rows[i].getAttribute("data-order") > order) {
        body.insertBefore(row, rows[i]);
        return true;
      }
    }
    if (table.getAttribute("data-more") === "true") {
      return false;
    }
    body.appendChild(row);
    return true;
  }

  function followQueue(table) {
    var url = table.getAttribute("data-live");
    if (!url || !window.EventSource) {
      return;
    }
    var news = document.getElementById("queue-news");
    var empty = document.getElementById("queue-empty");
    var source = new EventSource(url);
    source.addEventListener("open", function () {
      table.setAttribute("data-live-state", "open");
    });
    source.addEventListener("row", function (message) {
      var update = JSON.parse(message.data);
      var shown = table.querySelector('tr[data-case-id="' + update.case_id + '"]');
      var said = null;
      if (shown) {
        shown.parentNode.removeChild(shown);
      }
      if (update.html && placeRow(table, update.html, update.order)) {
        said = shown ? update.announce.changed : update.announce.added;
      } else if (shown) {
        said = update.announce.removed;
      }
      var some = table.tBodies[0].rows.length > 0;
      table.hidden = !some;
      if (empty) {
        empty.hidden = some;
      }
      if (said && news) {
        news.textContent = said;
      }
    });
    closeOnEnd(source);
  }

  function canned(form) {
    var select = document.getElementById("canned");
    var reply = document.getElementById("reply-text");
    if (!select || !reply) {
      return;
    }
    form.addEventListener("submit", function (event) {
      var option = select.options[select.selectedIndex];
      if (!option) {
        return;
      }
      event.preventDefault();
      reply.value = option.getAttribute("data-text");
      reply.focus();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var history = document.getElementById("history");
    if (history) {
      followCase(history);
    }
    var queue = document.getElementById("queue");
    if (queue) {
      followQueue(queue);
    }
    var form = document.getElementById("canned-form");
    if (form) {
      canned(form);
    }
  });
})();
