/* Cafe: small progressive enhancements. Everything works without this file.
 *
 * - A warning before leaving a method page form with unsaved changes.
 * - "N characters left" under fields with a maxlength, near the limit.
 * - confirm() before submitting a form (or pressing a button) that carries
 *   data-confirm="Question?".
 * - A rough live preview of the Markdown being edited (textarea[data-preview]),
 *   built from DOM nodes and text only, never from HTML strings, so nothing
 *   typed can run as script. The saved page is rendered by the server.
 *
 * The CSP allows only script from 'self': no inline handlers, no element.style;
 * state is shown by toggling attributes and classes.
 */
(function () {
  'use strict';

  function formState(form) {
    var parts = [];
    Array.prototype.forEach.call(form.elements, function (field) {
      if (!field.name || field.type === 'hidden' || field.type === 'submit') return;
      if ((field.type === 'checkbox' || field.type === 'radio') && !field.checked) return;
      parts.push(field.name + '=' + field.value);
    });
    return parts.join('\u0000');
  }

  /* (a) Unsaved changes on the page edit form. */
  function warnOnLeave(form) {
    var saved = formState(form);
    var submitting = false;
    form.addEventListener('submit', function () { submitting = true; });
    window.addEventListener('beforeunload', function (event) {
      if (submitting || formState(form) === saved) return;
      event.preventDefault();
      event.returnValue = '';
    });
    /* Back/forward cache may restore the page after a submit. */
    window.addEventListener('pageshow', function () { submitting = false; });
  }

  /* (b) Characters left, shown only near the limit. */
  function countCharacters(field) {
    var max = parseInt(field.getAttribute('maxlength'), 10);
    if (!(max >= 100) || field.type === 'password') return;
    var note = document.createElement('p');
    note.className = 'help char-count';
    note.hidden = true;
    field.insertAdjacentElement('afterend', note);
    function update() {
      var left = max - field.value.length;
      var near = left <= Math.max(20, Math.round(max * 0.2));
      note.hidden = !near;
      note.classList.toggle('at-limit', left <= 0);
      if (near) note.textContent = left === 1 ? '1 character left' : left + ' characters left';
    }
    field.addEventListener('input', update);
    update();
  }

  /* (c) Confirm before a destructive submit. */
  document.addEventListener('submit', function (event) {
    var form = event.target;
    var button = event.submitter;
    var question = (button && button.getAttribute('data-confirm')) || form.getAttribute('data-confirm');
    if (question && !window.confirm(question)) event.preventDefault();
  }, true);

  /* (d) A rough Markdown preview, text nodes only. */
  function slugify(title) {
    return title.trim().toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '-').replace(/^-+|-+$/g, '').slice(0, 80).replace(/-+$/, '');
  }
  var SAFE_URL = /^(https?:|mailto:|\/(?!\/)|#)/i;
  var INLINE = new RegExp([
    '(`+)([^`]|[^`][\\s\\S]*?[^`])\\1(?!`)',          // 1,2 code
    '\\[\\[([^\\]|]+)(?:\\|([^\\]]+))?\\]\\]',         // 3,4 wiki link
    '\\[([^\\]]+)\\]\\(([^)\\s]+)(?:\\s+"[^"]*")?\\)', // 5,6 link
    '<((?:https?:|mailto:)[^>\\s]+)>',                 // 7 autolink
    '\\*\\*([\\s\\S]+?)\\*\\*|__([\\s\\S]+?)__',       // 8,9 strong
    '~~([\\s\\S]+?)~~',                                // 10 strikethrough
    '\\*(\\S(?:[\\s\\S]*?\\S)?)\\*|\\b_(\\S(?:[\\s\\S]*?\\S)?)_\\b' // 11,12 emphasis
  ].join('|'), 'g');

  function make(tag, text) {
    var node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function link(href, label, className) {
    if (!label.trim()) return document.createTextNode(label);
    var a = make('a');
    if (SAFE_URL.test(href)) a.setAttribute('href', href);
    if (className) a.className = className;
    inline(a, label);
    return a;
  }
  function inline(parent, text) {
    var last = 0, m;
    INLINE.lastIndex = 0;
    var matches = [];
    while ((m = INLINE.exec(text)) !== null) matches.push(m);
    matches.forEach(function (m) {
      if (m.index > last) parent.append(text.slice(last, m.index));
      last = m.index + m[0].length;
      if (m[2] !== undefined) parent.append(make('code', m[2]));
      else if (m[3] !== undefined) {
        if (slugify(m[3])) parent.append(link('/methods/' + slugify(m[3]), (m[4] || m[3]).trim(), 'wikilink'));
        else parent.append(m[0]);   /* the template's empty [[ ]] */
      }
      else if (m[5] !== undefined) parent.append(link(m[6], m[5]));
      else if (m[7] !== undefined) parent.append(link(m[7], m[7]));
      else {
        var tag = m[8] || m[9] ? 'strong' : m[10] ? 'del' : 'em';
        var node = make(tag);
        inline(node, m[8] || m[9] || m[10] || m[11] || m[12]);
        parent.append(node);
      }
    });
    if (last < text.length) parent.append(text.slice(last));
  }

  var FENCE = /^ {0,3}(`{3,}|~{3,})/;
  var HEADING = /^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$/;
  var RULE = /^ {0,3}([-*_])(?:\s*\1){2,}\s*$/;
  var QUOTE = /^ {0,3}>\s?/;
  var ITEM = /^ {0,3}([-*+]|\d{1,9}[.)])\s+(.*)$/;
  function startsBlock(line) {
    return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) || ITEM.test(line);
  }

  function blocks(parent, lines) {
    var i = 0, m;
    while (i < lines.length) {
      var line = lines[i];
      if (!line.trim()) { i++; continue; }
      if ((m = FENCE.exec(line))) {
        var code = [];
        for (i++; i < lines.length && lines[i].trim().indexOf(m[1]) !== 0; i++) code.push(lines[i]);
        i++;
        var pre = make('pre');
        pre.append(make('code', code.join('\n')));
        parent.append(pre);
      } else if ((m = HEADING.exec(line))) {
        var h = make('h' + m[1].length);
        inline(h, m[2]);
        parent.append(h);
        i++;
      } else if (RULE.test(line)) {
        parent.append(make('hr'));
        i++;
      } else if (QUOTE.test(line)) {
        var quoted = [];
        while (i < lines.length && QUOTE.test(lines[i])) quoted.push(lines[i++].replace(QUOTE, ''));
        var bq = make('blockquote');
        blocks(bq, quoted);
        parent.append(bq);
      } else if ((m = ITEM.exec(line))) {
        var ordered = /\d/.test(m[1]);
        var list = make(ordered ? 'ol' : 'ul');
        while (i < lines.length && (m = ITEM.exec(lines[i])) && /\d/.test(m[1]) === ordered) {
          var text = m[2];
          for (i++; i < lines.length && /^\s{2,}\S/.test(lines[i]) && !ITEM.test(lines[i]); i++) text += ' ' + lines[i].trim();
          var li = make('li');
          var task = /^\[([ xX])\]\s+/.exec(text);
          if (task) {
            var box = make('span', task[1] === ' ' ? '\u2610' : '\u2611');
            box.className = 'task';
            li.append(box, ' ');
            text = text.slice(task[0].length);
          }
          inline(li, text);
          list.append(li);
        }
        parent.append(list);
      } else {
        var para = [line.trim()];
        for (i++; i < lines.length && lines[i].trim() && !startsBlock(lines[i]); i++) para.push(lines[i].trim());
        var p = make('p');
        inline(p, para.join(' '));
        parent.append(p);
      }
    }
  }

  function livePreview(textarea) {
    var target = document.getElementById(textarea.getAttribute('data-preview'));
    if (!target) return;
    var section = target.closest('section') || target;
    var note = make('p', 'A quick preview while you type. Tables, footnotes and links to pages that do not exist yet show properly once you save.');
    note.className = 'help';
    target.insertAdjacentElement('beforebegin', note);
    var timer = 0;
    function render() {
      var fresh = make('div');
      blocks(fresh, textarea.value.replace(/\r\n?/g, '\n').split('\n'));
      target.replaceChildren.apply(target, Array.prototype.slice.call(fresh.childNodes));
    }
    textarea.addEventListener('input', function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(render, 250);
    });
    render();
    section.hidden = false;
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll('form.page-form'), warnOnLeave);
    Array.prototype.forEach.call(document.querySelectorAll('input[maxlength], textarea[maxlength]'), countCharacters);
    Array.prototype.forEach.call(document.querySelectorAll('textarea[data-preview]'), livePreview);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
}());

// == issue 15: feedback ==
/* An error summary (a re-shown form) takes the focus, so it is read out and
 * in view; a one-time confirmation is put into its live region after load,
 * so that screen readers announce it. */
(function () {
  'use strict';
  function focusSummary() {
    var summary = document.querySelector('[data-error-summary]');
    if (summary) summary.focus();
  }
  function init() {
    /* After the load: the scroll to the page's #fragment moves the focus. */
    if (document.readyState === 'complete') window.setTimeout(focusSummary, 0);
    else window.addEventListener('load', function () { window.setTimeout(focusSummary, 0); });
    var flash = document.getElementById('cafe-flash');
    if (flash && flash.firstElementChild) {
      var message = flash.firstElementChild;
      flash.removeChild(message);
      window.setTimeout(function () { flash.appendChild(message); }, 100);
    }
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
}());

// == issue 15: finding ==
/* Suggestions for every tag of the comma-separated tag box (not only the
 * first, as a datalist would): an ARIA combobox over a listbox, built from
 * the form's own datalist (tag, "CODE — name", data-group). Arrow keys move
 * through the suggestions, Enter or a click picks one, which replaces just
 * the tag being typed; Escape closes the list. Without this script the
 * field stays a plain text box with its datalist. */
(function () {
  'use strict';
  var MAX = 8;

  function suggestTags(input) {
    var list = document.getElementById(input.getAttribute('list'));
    if (!list) return;
    var vocabulary = Array.prototype.map.call(list.options, function (o) {
      return { tag: o.value, label: o.textContent, group: o.getAttribute('data-group') || '' };
    });
    input.removeAttribute('list');
    input.setAttribute('role', 'combobox');
    input.setAttribute('autocomplete', 'off');
    input.setAttribute('aria-autocomplete', 'list');
    input.setAttribute('aria-expanded', 'false');
    var box = document.createElement('div');
    box.className = 'tag-suggest';
    input.parentNode.insertBefore(box, input);
    box.appendChild(input);
    var listbox = document.createElement('ul');
    listbox.id = input.id + '-suggestions';
    listbox.className = 'tag-suggestions';
    listbox.setAttribute('role', 'listbox');
    listbox.setAttribute('aria-label', 'Tag suggestions');
    listbox.hidden = true;
    box.appendChild(listbox);
    input.setAttribute('aria-controls', listbox.id);
    var status = document.createElement('p');
    status.className = 'visually-hidden';
    status.setAttribute('role', 'status');
    box.appendChild(status);
    var shown = [], active = -1;

    /* The tag under the caret: [start, end) of its piece of the value. */
    function current() {
      var value = input.value, caret = input.selectionStart === null ? value.length : input.selectionStart;
      var start = value.lastIndexOf(',', caret - 1) + 1;
      var end = value.indexOf(',', caret);
      if (end < 0) end = value.length;
      return { start: start, end: end, text: value.slice(start, end).trim().toLowerCase().replace(/\s+/g, ' ') };
    }
    function close() {
      listbox.hidden = true;
      input.setAttribute('aria-expanded', 'false');
      input.removeAttribute('aria-activedescendant');
      active = -1;
    }
    function mark(index) {
      active = index;
      Array.prototype.forEach.call(listbox.children, function (li, i) {
        li.setAttribute('aria-selected', i === index ? 'true' : 'false');
      });
      if (index < 0) input.removeAttribute('aria-activedescendant');
      else {
        input.setAttribute('aria-activedescendant', listbox.children[index].id);
        listbox.children[index].scrollIntoView({ block: 'nearest' });
      }
    }
    function update() {
      var typed = current().text;
      var taken = input.value.split(',').map(function (t) { return t.trim().toLowerCase(); });
      shown = [];
      if (typed) {
        var starts = [], contains = [];
        vocabulary.forEach(function (v) {
          if (v.tag === typed || taken.indexOf(v.tag) >= 0) return;
          if (v.tag.indexOf(typed) === 0 || v.tag.replace(/[^a-z0-9]/g, '').indexOf(typed.replace(/[^a-z0-9]/g, '')) === 0) starts.push(v);
          else if (v.label.toLowerCase().indexOf(typed) >= 0 || v.tag.indexOf(typed) >= 0) contains.push(v);
        });
        shown = starts.concat(contains).slice(0, MAX);
      }
      listbox.replaceChildren();
      shown.forEach(function (v, i) {
        var li = document.createElement('li');
        li.id = listbox.id + '-' + i;
        li.setAttribute('role', 'option');
        li.setAttribute('aria-selected', 'false');
        var code = document.createElement('span');
        code.className = 'suggest-tag';
        code.textContent = v.tag;
        li.appendChild(code);
        var name = v.label.split(' — ').slice(1).join(' — ');
        if (name) {
          var detail = document.createElement('span');
          detail.className = 'suggest-name';
          detail.textContent = name + (v.group ? ' · ' + v.group : '');
          li.appendChild(detail);
        }
        li.addEventListener('mousedown', function (event) { event.preventDefault(); pick(i); });
        listbox.appendChild(li);
      });
      if (!shown.length) {
        close();
        status.textContent = '';
        return;
      }
      listbox.hidden = false;
      input.setAttribute('aria-expanded', 'true');
      mark(-1);
      status.textContent = shown.length === 1 ? '1 suggestion' : shown.length + ' suggestions';
    }
    function pick(index) {
      var v = shown[index];
      if (!v) return;
      var piece = current(), value = input.value;
      var before = value.slice(0, piece.start), after = value.slice(piece.end);
      var lead = piece.start > 0 ? ' ' : '';
      var tail = after ? after : ', ';
      input.value = before + lead + v.tag + tail;
      var caret = (before + lead + v.tag).length + (after ? 0 : 2);
      input.setSelectionRange(caret, caret);
      close();
      status.textContent = v.tag + ' added';
      input.dispatchEvent(new Event('change', { bubbles: true }));
    }
    input.addEventListener('input', update);
    input.addEventListener('blur', close);
    input.addEventListener('keydown', function (event) {
      var open = !listbox.hidden;
      if (event.key === 'ArrowDown') {
        event.preventDefault();
        if (!open) { update(); if (shown.length) mark(0); return; }
        mark((active + 1) % shown.length);
      } else if (event.key === 'ArrowUp' && open) {
        event.preventDefault();
        mark(active <= 0 ? shown.length - 1 : active - 1);
      } else if (event.key === 'Enter' && open && active >= 0) {
        event.preventDefault();
        pick(active);
      } else if (event.key === 'Escape' && open) {
        event.preventDefault();
        close();
      }
    });
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll('input[name=tags][list]'), suggestTags);
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
}());

// == issue 15: wayfinding and the editor ==
/* A small Markdown toolbar above textarea[data-toolbar]: each button wraps
 * the selection (or a placeholder word) or starts the selected lines, then
 * gives the focus back to the text with the result selected. Plain buttons,
 * reachable by Tab; Ctrl/Cmd+B and Ctrl/Cmd+I work in the text too. The
 * template's prompts (HTML comments) are left out of the live preview, as
 * they are left out of the saved page, and the preview's links are taken
 * out of the Tab order: it sits between the text and the tag field, and is
 * there to be looked at, not followed. */
(function () {
  'use strict';

  var ACTIONS = [
    { label: 'Bold', text: 'B', wrap: ['**', '**'], word: 'bold text', key: 'b' },
    { label: 'Italic', text: 'I', wrap: ['*', '*'], word: 'italic text', key: 'i' },
    { label: 'Heading', text: 'H', line: '## ', word: 'Section' },
    { label: 'List', text: '• List', line: '- ', word: 'item' },
    { label: 'Link', text: 'Link', wrap: ['[', '](https://)'], word: 'link text' },
    { label: 'Wiki link', text: '[[ ]]', wrap: ['[[', ']]'], word: 'Method name' }
  ];

  function apply(textarea, action) {
    var value = textarea.value;
    var start = textarea.selectionStart, end = textarea.selectionEnd;
    var chosen = value.slice(start, end);
    var before, middle, after, selectFrom, selectTo;
    if (action.line) {
      var lineStart = value.lastIndexOf('\n', start - 1) + 1;
      var block = value.slice(lineStart, end) || action.word;
      middle = block.split('\n').map(function (line) { return action.line + line; }).join('\n');
      before = value.slice(0, lineStart);
      after = value.slice(Math.max(end, lineStart));
      selectFrom = lineStart + action.line.length;
      selectTo = lineStart + middle.length;
    } else {
      var inner = chosen || action.word;
      middle = action.wrap[0] + inner + action.wrap[1];
      before = value.slice(0, start);
      after = value.slice(end);
      selectFrom = start + action.wrap[0].length;
      selectTo = selectFrom + inner.length;
    }
    textarea.value = before + middle + after;
    textarea.focus();
    textarea.setSelectionRange(selectFrom, selectTo);
    textarea.dispatchEvent(new Event('input', { bubbles: true }));
  }

  function toolbar(textarea) {
    var bar = document.createElement('div');
    bar.className = 'md-toolbar';
    bar.setAttribute('role', 'group');
    bar.setAttribute('aria-label', 'Formatting for the text');
    ACTIONS.forEach(function (action) {
      var button = document.createElement('button');
      button.type = 'button';
      button.className = 'small secondary';
      button.textContent = action.text;
      if (action.text !== action.label) button.setAttribute('aria-label', action.label);
      button.title = action.label + (action.key ? ' (Ctrl+' + action.key.toUpperCase() + ')' : '');
      button.addEventListener('click', function () { apply(textarea, action); });
      bar.append(button);
    });
    textarea.insertAdjacentElement('beforebegin', bar);
    textarea.addEventListener('keydown', function (event) {
      if (!(event.ctrlKey || event.metaKey) || event.altKey || event.shiftKey) return;
      ACTIONS.forEach(function (action) {
        if (action.key && event.key.toLowerCase() === action.key) {
          event.preventDefault();
          apply(textarea, action);
        }
      });
    });
  }

  var PROMPT = /^<!--[\s\S]*-->$/;
  function calmPreview(preview) {
    function sweep() {
      Array.prototype.forEach.call(preview.querySelectorAll('p'), function (p) {
        if (PROMPT.test(p.textContent.trim())) p.remove();
      });
      Array.prototype.forEach.call(preview.querySelectorAll('a:not([tabindex])'), function (a) {
        a.setAttribute('tabindex', '-1');
      });
    }
    new MutationObserver(sweep).observe(preview, { childList: true });
    sweep();
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll('textarea[data-toolbar]'), toolbar);
    Array.prototype.forEach.call(document.querySelectorAll('textarea[data-preview]'), function (textarea) {
      var preview = document.getElementById(textarea.getAttribute('data-preview'));
      if (preview) calmPreview(preview);
    });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
}());

// Files dropped anywhere on the upload form go into its file input (the
// form works without this: the input is an ordinary multiple-file input).
(function () {
  'use strict';
  function dropZone(form) {
    var input = form.querySelector('input[type="file"]');
    if (!input) return;
    form.addEventListener('dragover', function (event) {
      event.preventDefault();
      form.classList.add('dropping');
    });
    form.addEventListener('dragleave', function (event) {
      if (!form.contains(event.relatedTarget)) form.classList.remove('dropping');
    });
    form.addEventListener('drop', function (event) {
      event.preventDefault();
      form.classList.remove('dropping');
      if (event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
        input.dispatchEvent(new Event('change', { bubbles: true }));
      }
    });
  }
  function init() {
    Array.prototype.forEach.call(document.querySelectorAll('form.upload-form'), dropZone);
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
}());
