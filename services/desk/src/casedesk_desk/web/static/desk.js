// The desk's only script, and the pages work without it: it keeps the case page's history,
// status, assignee and tier current from the case's event stream (/cases/<id>/live), and puts
// a canned reply into the reply field without reloading the page.
(function () {
  "use strict";

  function setText(id, text) {
    var element = document.getElementById(id);
    if (element && text !== null && text !== undefined) {
      element.textContent = text;
    }
  }

  function follow(history) {
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
    // The desk ends the stream when the session ends or the case cannot be watched.
    source.addEventListener("end", function () {
      source.close();
    });
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
      follow(history);
    }
    var form = document.getElementById("canned-form");
    if (form) {
      canned(form);
    }
  });
})();
