"""End-to-end tests of the web page in headless Chromium against a real CineSync server.

The server (see conftest.py) serves MovieLens latest-small plus a slice of anime TV series on a
freshly trained EASE model; every test starts with an empty browser (no profiles) and works
the way a person would: sign up, search, click stars, press buttons, switch views.
"""

from __future__ import annotations

import re

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.realdata]

expect = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed").expect
expect.set_options(timeout=20_000)  # the machine is shared: allow slow moments (the default is 5 s)


# ---- helpers ------------------------------------------------------------------------------------
def rec_seq(page) -> int:
    """How many times the recommendation list has been rendered (``#recs[data-seq]``)."""
    return int(page.get_attribute("#recs", "data-seq") or 0)


def wait_recs(page, after: int) -> None:
    """Wait until the list has been rendered again after render number ``after`` and is ready."""
    page.wait_for_function("s => { const r = document.querySelector('#recs'); "
                           "return Number(r.dataset.seq) > s && r.dataset.state === 'ready'; }", arg=after)


def rec_ids(page) -> list[str]:
    return page.locator("#recs [data-testid=rec-card]").evaluate_all("els => els.map(e => e.dataset.itemId)")


def card_domains(page, where: str = "#recs") -> list[str]:
    return page.locator(f"{where} [data-testid=domain-badge]").evaluate_all("els => els.map(e => e.dataset.domain)")


def sign_up(page, name: str, onboarding: bool = False) -> None:
    """Create a profile through the dialog; leave onboarding open or close it."""
    seq = rec_seq(page)
    page.get_by_test_id("signup-button").click()
    expect(page.get_by_test_id("signup-dialog")).to_be_visible()
    page.get_by_test_id("signup-name").fill(name)
    page.get_by_test_id("signup-submit").click()
    expect(page.get_by_test_id("signup-dialog")).to_be_hidden()
    expect(page.get_by_test_id("profile-select").locator("option:checked")).to_have_text(name)
    wait_recs(page, seq)
    expect(page.get_by_test_id("onboarding")).to_be_visible()
    if not onboarding:
        page.get_by_test_id("onboarding-done").click()
        expect(page.get_by_test_id("onboarding")).to_be_hidden()


def search(page, query: str) -> None:
    page.get_by_test_id("search-input").fill(query)
    page.wait_for_selector(f"#search-results[data-state=ready][data-query='{query}']")


def result_row(page, title: str):
    """The search result whose title is exactly ``title``."""
    exact = page.locator(".search-title strong", has_text=re.compile(rf"^{re.escape(title)}$"))
    return page.get_by_test_id("search-result").filter(has=exact).first


def rate_via_search(page, query: str, title: str, stars: int) -> None:
    """Search, click the n-th star of the exact title, wait for the refreshed recommendations."""
    search(page, query)
    row = result_row(page, title)
    seq = rec_seq(page)
    row.get_by_test_id(f"star-{stars}").click()
    expect(page.get_by_test_id("toast").filter(has_text=f"Rated {title} {stars}★")).to_be_visible()
    wait_recs(page, seq)
    expect(row.get_by_test_id("stars")).to_have_attribute("data-value", str(stars))
    expect(page.get_by_test_id("rated-list")).to_contain_text(title)


def close_search(page) -> None:
    page.get_by_test_id("search-input").fill("")
    expect(page.get_by_test_id("search-results")).to_be_hidden()


def quiet(page) -> None:
    """Dismiss toasts and let transitions settle (before a screenshot)."""
    page.evaluate("document.getElementById('toasts').replaceChildren(); document.activeElement?.blur()")
    page.mouse.move(0, 0)
    page.wait_for_timeout(400)


# ---- flows --------------------------------------------------------------------------------------
def test_signup_search_rate_and_recommendations_follow(page, shots) -> None:
    """(1) sign up -> onboarding -> rate by search -> explained picks that change with every rating."""
    page.goto("/")
    expect(page.get_by_test_id("welcome")).to_be_visible()
    expect(page.get_by_test_id("trending").get_by_test_id("strip-card").first).to_be_visible()
    expect(page.get_by_test_id("gems").get_by_test_id("strip-card").first).to_be_visible()
    quiet(page)
    shots(page, "home.png")

    sign_up(page, "Alice", onboarding=True)
    expect(page.get_by_test_id("genre-chip").first).to_be_visible()
    assert page.get_by_test_id("genre-chip").count() > 10
    for genre in ("Crime", "Comedy"):
        chip = page.locator(f"[data-testid=genre-chip][data-genre='{genre}']")
        chip.click()
        expect(chip).to_have_attribute("aria-pressed", "true")
    page.get_by_test_id("onboarding-next").click()
    expect(page.get_by_test_id("onboarding-card").first).to_be_visible()
    assert page.get_by_test_id("onboarding-card").count() >= 6
    # rating an onboarding title updates the list right away
    first = page.get_by_test_id("onboarding-card").first
    seq = rec_seq(page)
    first.get_by_test_id("star-4").click()
    wait_recs(page, seq)
    page.get_by_test_id("onboarding-done").click()
    expect(page.get_by_test_id("onboarding")).to_be_hidden()

    rate_via_search(page, "toy story", "Toy Story", 5)
    genres = result_row(page, "Toy Story").locator(".chip")
    expect(genres.first).to_be_visible()  # search results carry genres
    rate_via_search(page, "heat", "Heat", 5)
    rate_via_search(page, "matrix", "The Matrix", 4)
    before = rec_ids(page)
    assert len(before) >= 6
    texts = page.get_by_test_id("explanation").all_inner_texts()
    assert len(texts) == len(before)
    assert sum(bool(re.search(r"Because you rated .+ [1-5]★", t)) for t in texts) >= len(texts) // 2, texts
    assert any(re.search(r"(Toy Story|Heat|The Matrix) [45]★", t) for t in texts), texts
    expect(page.get_by_test_id("explanation").first).to_be_visible()

    rate_via_search(page, "godfather", "The Godfather", 5)
    after = rec_ids(page)
    assert after != before
    assert "858" not in after  # a rated title is never recommended (858 = The Godfather)
    expect(page.get_by_test_id("rated-list").locator("li")).to_have_count(5)

    close_search(page)
    quiet(page)
    shots(page, "recommendations.png")

    # long plot summaries are clamped; "More" expands them
    more = page.locator("#recs .overview-wrap .more:visible").first
    overview = more.locator("xpath=preceding-sibling::p[1]")
    expect(overview).to_have_class(re.compile("clamped"))
    more.click()
    expect(overview).not_to_have_class(re.compile("clamped"))
    expect(more).to_have_attribute("aria-expanded", "true")


def test_tv_switch_shows_tv_only(page, has_tv) -> None:
    """(2) the Movies / TV / All switch restricts every list to that domain and is remembered."""
    page.goto("/")
    sign_up(page, "Tess")
    rate_via_search(page, "toy story", "Toy Story", 5)
    if has_tv:
        rate_via_search(page, "death note", "Death Note", 5)
        rate_via_search(page, "cowboy bebop", "Cowboy Bebop", 4)
    close_search(page)

    seq = rec_seq(page)
    page.get_by_test_id("domain-tv").click()
    expect(page.get_by_test_id("domain-tv")).to_have_attribute("aria-checked", "true")
    wait_recs(page, seq)
    if not has_tv:
        expect(page.get_by_test_id("recs").get_by_test_id("empty-state")).to_contain_text("No TV titles")
        return
    domains = card_domains(page)
    assert len(domains) >= 6 and set(domains) == {"tv"}, domains
    expect(page.get_by_test_id("trending").get_by_test_id("strip-card").first).to_be_visible()
    page.wait_for_function("document.querySelector('#trending').dataset.state === 'ready'")
    assert set(card_domains(page, "#trending")) == {"tv"}
    texts = page.get_by_test_id("explanation").all_inner_texts()
    assert any("Death Note" in t or "Cowboy Bebop" in t for t in texts), texts
    search(page, "death")
    assert set(card_domains(page, "#search-results")) == {"tv"}
    close_search(page)

    page.reload()
    expect(page.get_by_test_id("domain-tv")).to_have_attribute("aria-checked", "true")
    page.wait_for_function("document.querySelector('#recs').dataset.state === 'ready'")
    assert set(card_domains(page)) == {"tv"}

    seq = rec_seq(page)
    page.get_by_test_id("domain-movie").click()
    wait_recs(page, seq)
    domains = card_domains(page)
    assert len(domains) >= 6 and set(domains) == {"movie"}, domains


def test_not_interested_never_returns_and_watchlist(page) -> None:
    """(3) "Not interested" removes a card for good; "+ Watchlist" fills the watchlist panel."""
    page.goto("/")
    sign_up(page, "Nina")
    rate_via_search(page, "toy story", "Toy Story", 5)
    rate_via_search(page, "finding nemo", "Finding Nemo", 5)
    close_search(page)
    ids = rec_ids(page)
    victim = ids[0]
    card = page.locator(f"#recs [data-testid=rec-card][data-item-id='{victim}']")
    seq = rec_seq(page)
    card.get_by_test_id("not-interested").click()
    expect(card).to_have_count(0)
    wait_recs(page, seq)
    assert victim not in rec_ids(page)
    assert len(rec_ids(page)) == len(ids)  # the list is topped up

    saved = page.locator(f"#recs [data-testid=rec-card][data-item-id='{ids[1]}']")
    saved_title = saved.get_by_test_id("card-title").inner_text()
    saved.get_by_test_id("add-watchlist").click()
    expect(saved.get_by_test_id("add-watchlist")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("watchlist-item")).to_have_count(1)
    expect(page.get_by_test_id("watchlist")).to_contain_text(saved_title)

    page.reload()
    page.wait_for_function("document.querySelector('#recs').dataset.state === 'ready'")
    assert victim not in rec_ids(page)
    seq = rec_seq(page)
    page.get_by_test_id("ctx-diversity").focus()
    page.keyboard.press("End")  # more variety: a different list, still without the blocked title
    wait_recs(page, seq)
    assert victim not in rec_ids(page)
    expect(page.get_by_test_id("watchlist")).to_contain_text(saved_title)
    page.get_by_test_id("watchlist-remove").click()
    expect(page.get_by_test_id("watchlist-item")).to_have_count(0)


def test_watch_party_shows_member_satisfaction(page, shots) -> None:
    """(4) two profiles in one browser plan a watch party; every pick shows both members' bars."""
    page.goto("/")
    sign_up(page, "Alice")
    for q, title, n in (("toy story", "Toy Story", 5), ("finding nemo", "Finding Nemo", 5), ("shrek", "Shrek", 4)):
        rate_via_search(page, q, title, n)
    sign_up(page, "Bob")
    for q, title, n in (("heat", "Heat", 5), ("godfather", "The Godfather", 5), ("fight club", "Fight Club", 4)):
        rate_via_search(page, q, title, n)
    close_search(page)
    expect(page.get_by_test_id("profile-select").locator("option")).to_have_count(2)

    page.get_by_test_id("tab-party").click()
    expect(page.get_by_test_id("view-party")).to_be_visible()
    members = page.get_by_test_id("party-member")
    expect(members).to_have_count(2)
    for i in range(2):
        expect(members.nth(i)).to_be_checked()
    page.get_by_test_id("party-strategy-least_misery").check()
    page.get_by_test_id("party-go").click()
    cards = page.get_by_test_id("party-card")
    expect(cards.first).to_be_visible()
    assert cards.count() >= 4
    for i in range(cards.count()):
        bars = cards.nth(i).get_by_test_id("sat-bar")
        expect(bars).to_have_count(2)
        names = bars.locator(".sat-name").all_inner_texts()
        assert names == ["Alice", "Bob"]
        values = [int(v) for v in bars.locator("[role=meter]").evaluate_all(
            "els => els.map(e => e.getAttribute('aria-valuenow'))")]
        assert all(0 <= v <= 100 for v in values)
    expect(page.get_by_test_id("party-member-score")).to_have_count(2)
    quiet(page)
    shots(page, "watch-party.png")

    # a single member is refused with a friendly message, not sent
    members.nth(1).uncheck()
    page.get_by_test_id("party-go").click()
    expect(page.get_by_test_id("toast-error")).to_contain_text("at least two")


def test_context_controls_keyboard_and_errors(page) -> None:
    """Context controls refresh the list and show the rules that fired; stars work from the
    keyboard; controls are labelled; API errors appear as a friendly toast."""
    page.goto("/")
    sign_up(page, "Cleo")
    search(page, "toy story")
    star = result_row(page, "Toy Story").get_by_test_id("star-5")
    seq = rec_seq(page)
    star.focus()
    page.keyboard.press("Enter")
    wait_recs(page, seq)
    rate_via_search(page, "heat", "Heat", 4)
    close_search(page)

    seq = rec_seq(page)
    page.get_by_test_id("ctx-mood").select_option("thrilling")
    wait_recs(page, seq)
    expect(page.get_by_test_id("context-reasons")).to_contain_text("thrill")
    seq = rec_seq(page)
    page.get_by_test_id("ctx-time").select_option("90")
    wait_recs(page, seq)
    expect(page.get_by_test_id("context-reasons")).to_contain_text("time budget")
    runtimes = page.locator("#recs [data-testid=rec-card]").evaluate_all("els => els.map(e => e.dataset.runtime)")
    assert runtimes and all(float(r) <= 90 for r in runtimes if r), runtimes
    seq = rec_seq(page)
    page.get_by_test_id("ctx-company").select_option("family")
    wait_recs(page, seq)
    expect(page.get_by_test_id("context-reasons")).to_contain_text("family")
    page.reload()  # the controls are remembered
    expect(page.get_by_test_id("ctx-company")).to_have_value("family")

    unlabelled = page.evaluate("""() => [...document.querySelectorAll('input, select, button')]
        .filter(e => e.offsetParent !== null)
        .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())
        .map(e => e.outerHTML.slice(0, 80))""")
    assert unlabelled == []

    # a profile whose token the server does not know -> the server's 401 detail as a toast
    page.evaluate("""() => {
        const list = JSON.parse(localStorage.getItem('cinesync.profiles'));
        list.push({user_id: 'ghost', token: 'not-a-real-token', display_name: 'Ghost'});
        localStorage.setItem('cinesync.profiles', JSON.stringify(list));
        localStorage.setItem('cinesync.active', JSON.stringify('ghost'));
    }""")
    page.reload()
    toast = page.get_by_test_id("toast-error").first
    expect(toast).to_be_visible()
    expect(toast).to_contain_text("Ghost")
    assert "{" not in toast.inner_text()  # a sentence, not raw JSON
