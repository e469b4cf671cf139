"""Small views: access -> form -> action (actions.py) -> panel (panels.py) or redirect. No view pushes to
pages or records activity: the actions do."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import LoginView, redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_ratelimit.core import is_ratelimited
from django_ratelimit.decorators import ratelimit

from . import access, accounts, actions, downloads, health, jobs, limits, panels, uploads
from .forms import (
    CommentForm,
    CueForm,
    DisplayNameForm,
    LinkForm,
    LoginForm,
    LoopForm,
    MixForm,
    RenameForm,
    RenderForm,
    SeparationForm,
    ShareForm,
    SignupForm,
    TranscribeForm,
    UploadForm,
)
from .models import Comment, Cue, Job, Profile, Share, ShareLink, Stem, Track, display_name
from .music import charts, loops, tempo


def track_url(track: Track) -> str:
    return reverse("track", args=[track.uuid])


def long_running(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A view that may take a while (an upload decoded whole, a file or a mix streamed out): the web process
    runs it on its threads for such requests, so the pages behind it do not wait (soundforge/asgi.py)."""
    view.long_running = True
    return view


def open_to_links(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A track view that share-link holders may reach without an account (access.py still decides); an
    anonymous visitor with no link is sent to log in rather than told the track does not exist."""

    @login_not_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except Http404:
            if not request.user.is_authenticated and not access.actor(request).link_tokens:
                return redirect_to_login(request.get_full_path())
            raise

    return wrapper


@login_not_required
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    healthy, report = health.check()
    return JsonResponse(report, status=200 if healthy else 503)


@login_not_required
@ratelimit(key="ip", rate=limits.signup_rate, method="POST", block=False)
def signup(request: HttpRequest) -> HttpResponse:
    """Sign up: the same answer for every address (accounts.py); the mail says what happened."""
    if request.user.is_authenticated:
        return redirect("library")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and getattr(request, "limited", False):
        form.add_error(None, "Too many sign-ups from this address. Try again later.")
        return render(request, "registration/signup.html", {"form": form}, status=429)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        accounts.sign_up(request, data["email"], data["display_name"], data["password1"])
        request.session["signed_up"] = data["email"]
        return redirect("signup-sent")
    return render(request, "registration/signup.html", {"form": form})


@login_not_required
@require_GET
def signup_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "registration/signup_sent.html", {"email": request.session.get("signed_up", "")})


@login_not_required
@require_GET
def verify(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    user = accounts.verify(uidb64, token)
    if user is None:
        return render(request, "registration/verify_failed.html", status=400)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    messages.success(request, "Your address is verified. Tracks shared with it are in your library.")
    return redirect("library")


def account(request: HttpRequest) -> HttpResponse:
    """The display name others see, changed here."""
    form = DisplayNameForm(request.POST or None, user=request.user,
                           initial={"display_name": display_name(request.user)})
    if request.method == "POST" and form.is_valid():
        name = form.cleaned_data["display_name"]
        Profile.objects.update_or_create(user=request.user, defaults={"display_name": name})
        messages.success(request, f"Others now see you as “{name}”.")
        return redirect("account")
    return render(request, "registration/account.html", {"form": form})


class SoundForgeLoginView(LoginView):
    """Log in; at most LOGIN_RATE attempts per client address whatever the account (django-axes also locks
    an account at an address after repeated failures)."""

    form_class = LoginForm
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if is_ratelimited(request, group="login", key="ip", rate=limits.login_rate(), method="POST", increment=True):
            form = self.get_form()
            form.errors.clear()
            form.add_error(None, "Too many log-in attempts from this address. Try again later.")
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)


@require_GET
def library(request: HttpRequest) -> HttpResponse:
    return render(request, "tracks/library.html", {
        **panels.library_data(request.user),
        "max_upload_mb": settings.MAX_UPLOAD_MB,
        "max_minutes": settings.MAX_DURATION_S // 60,
    })


@long_running
@require_POST
@ratelimit(key="user", rate=limits.upload_rate, method="POST", block=False)
def upload(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST, request.FILES)
    is_xhr = request.headers.get("X-Requested-With") == "XMLHttpRequest"
    error = None
    status = 400
    track = None
    if getattr(request, "limited", False):
        error, status = f"Too many uploads: {settings.UPLOAD_RATE.replace('/', ' per ')} at most. Try again later.", 429
    elif getattr(request, "upload_too_large", False):
        error = uploads.too_large_message()
    elif not form.is_valid():
        error = form.errors["file"][0]
    else:
        try:
            track = actions.upload(form.cleaned_data["file"], request.user)
        except uploads.AudioRejected as exc:
            error = str(exc)
        except limits.QuotaFull as exc:
            error, status = str(exc), 413
    if is_xhr:
        if error:
            return render(request, "tracks/upload_error.html", {"error": error}, status=status)
        return render(request, panels.ROW_TEMPLATE, panels.row_data(track), status=201)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"Uploaded “{track.title}”; analysis is queued.")
    return redirect("library")


@open_to_links
@require_GET
def track_detail(request: HttpRequest, track_uuid: str) -> HttpResponse:
    who = access.actor(request)
    track = access.get_viewable(who, track_uuid)
    context = {**panels.page_data(track), **controls_context(who, track)}
    if context["can_manage"]:
        context.update(sharing_context(track))
    return render(request, "tracks/track_detail.html", context)


@open_to_links
@require_GET
def track_chart(request: HttpRequest, track_uuid: str) -> HttpResponse:
    """The chord chart to read or print: the bars in rows of four under the song's sections."""
    track = access.get_viewable(access.actor(request), track_uuid)
    analysis = track.latest_analysis()
    shown = analysis.shown if analysis else {}
    return render(request, "tracks/chart.html", {"track": track, "analysis": analysis,
                                                 "chart": charts.chart(shown)})


def controls_context(who: access.Actor, track: Track) -> dict[str, Any]:
    """What a person may do on a track's page: their rights and the forms that go with them."""
    context = {"track": track, **access.rights(who, track), "comment_form": CommentForm()}
    if context["can_edit"]:
        context["separation_form"] = separation_form(None)
    return context


CONTROL_PANELS = tuple(name for name, panel in panels.PANELS.items()
                       if panel.per_person and panels.ACCESS in panel.facts)


@open_to_links
@require_GET
def track_controls(request: HttpRequest, track_uuid: str) -> HttpResponse:
    """The parts of a track's page that depend on who is looking (their buttons, the separation form, the
    comment box), rendered for this person: an open page fetches them when its socket says their access
    changed (static/js/live.js), so controls appear and vanish without a reload."""
    who = access.actor(request)
    track = access.get_viewable(who, track_uuid)
    return HttpResponse(panels.render(track, CONTROL_PANELS, request, **controls_context(who, track)))


def separation_form(data: object) -> SeparationForm:
    return SeparationForm(data, models=jobs.separation_models(), default_model=settings.DEFAULT_SEPARATION_MODEL)


@long_running
@open_to_links
@require_GET
def track_audio(request: HttpRequest, track_uuid: str) -> HttpResponse:
    as_attachment = request.GET.get("download") == "1"
    who = access.actor(request)
    track = (access.get_downloadable if as_attachment else access.get_viewable)(who, track_uuid)
    # Listen-only link holders play the compressed preview: never the original, through any URL.
    return downloads.audio_response(track, range_header=request.headers.get("Range", ""),
                                    as_attachment=as_attachment, preview=not access.can_download(who, track))


@long_running
@open_to_links
@require_GET
def track_tagged(request: HttpRequest, track_uuid: str) -> HttpResponse:
    track = access.get_downloadable(access.actor(request), track_uuid)
    return downloads.tagged_response(track)


@require_GET
def library_rekordbox(request: HttpRequest) -> HttpResponse:
    """The person's own tracks as Rekordbox's collection XML."""
    tracks = list(Track.objects.filter(owner=request.user).order_by("created", "id"))
    return downloads.rekordbox_response(tracks, "SoundForge - rekordbox.xml")


@open_to_links
@require_GET
def analysis_export(request: HttpRequest, track_uuid: str, fmt: str) -> HttpResponse:
    """The latest analysis as JSON (everything the port found) or CSV (one row per beat)."""
    track = access.get_downloadable(access.actor(request), track_uuid)
    analysis = track.latest_analysis()
    if analysis is None:
        raise Http404("Not analysed yet")
    return downloads.analysis_response(track, analysis, fmt)


@require_POST
def track_analyse(request: HttpRequest, track_uuid: str) -> HttpResponse:
    track = access.get_editable(access.actor(request), track_uuid)
    return _start_job(request, track, Job.Kind.ANALYSIS)


@require_POST
def track_tempo(request: HttpRequest, track_uuid: str) -> HttpResponse:
    """A tempo correction (``step``: 2, 1/2, 3/2, 2/3, or clear): the beat grid moves for everyone on the
    page, in the library's BPM and in the exports; 400 when the step leads to no sensible tempo."""
    track = access.get_editable(access.actor(request), track_uuid)
    value = request.POST.get("step", "")
    if value != "clear" and value not in tempo.STEPS:
        return HttpResponse("step must be one of " + ", ".join([*tempo.STEPS, "clear"]), status=400)
    if actions.retime(track, request.user, None if value == "clear" else tempo.STEPS[value]) is None:
        return HttpResponse("There is no tempo to correct that way.", status=400)
    if request.htmx:
        return HttpResponse(panels.render(track, ["analysis-panel"], request))
    return redirect(track_url(track))


@require_POST
def track_separate(request: HttpRequest, track_uuid: str) -> HttpResponse:
    track = access.get_editable(access.actor(request), track_uuid)
    form = separation_form(request.POST)
    return _start_job(request, track, Job.Kind.SEPARATION, form, lambda: {
        "model": form.cleaned_data["model"], "format": form.cleaned_data["format"]})


@require_POST
def stems_render(request: HttpRequest, track_uuid: str, job_uuid: str) -> HttpResponse:
    """Render the mix as the mixer plays it (a job: progress and the file arrive in the render panel)."""
    track, stems = _downloadable_stems(request, track_uuid, job_uuid)
    form = RenderForm(request.POST, [s.name for s in stems])
    return _start_job(request, track, Job.Kind.RENDER, form,
                      lambda: {**form.options(), "separation": str(stems[0].job.uuid)})


def _start_job(request: HttpRequest, track: Track, kind: str, form: Any = None,
               options: Callable[[], dict[str, Any]] = dict) -> HttpResponse:
    """Start a job of this kind with the ``options`` of a valid ``form``, answered with the kind's panel: the
    job in it, or why there is none in words (the panel's ``<kind>_error``): 400 for the form, 429 when the
    person has too many jobs at once, 413 when the storage quota would overflow."""
    panel, error = jobs.KINDS[kind].panel, f"{kind}_error"
    if form is not None and not form.is_valid():
        return _job_panel(request, track, panel, status=400, **{error: said(form)})
    try:
        actions.start(kind, track, request.user, options())
    except limits.Busy as exc:
        return _job_panel(request, track, panel, status=429, **{error: str(exc)})
    except limits.QuotaFull as exc:
        return _job_panel(request, track, panel, status=413, **{error: str(exc)})
    return _job_panel(request, track, panel)


@long_running
@open_to_links
@require_GET
def render_file(request: HttpRequest, track_uuid: str, job_uuid: str) -> HttpResponse:
    """The track's latest rendered mix (an older one is replaced, its file gone)."""
    track = access.get_downloadable(access.actor(request), track_uuid)
    job = track.latest_job(Job.Kind.RENDER)
    if job is None or str(job.uuid) != str(job_uuid) or job.status != Job.Status.SUCCEEDED:
        raise Http404("No such render")
    return downloads.render_response(track, job)


@require_POST
def stems_transcribe(request: HttpRequest, track_uuid: str, job_uuid: str) -> HttpResponse:
    """Transcribe some of a separation's stems to MIDI (a job: progress, then the piano rolls and files)."""
    track, stems = _downloadable_stems(request, track_uuid, job_uuid)
    form = TranscribeForm(request.POST, [s.name for s in stems])
    return _start_job(request, track, Job.Kind.TRANSCRIPTION, form,
                      lambda: {"separation": str(stems[0].job.uuid), "stems": form.cleaned_data["stems"]})


GRIDS = {"": 0, "8": 2, "16": 4}  # ?grid=: none, eighths, sixteenths (divisions of a beat)


@open_to_links
@require_GET
def stem_midi(request: HttpRequest, track_uuid: str, job_uuid: str, name: str) -> HttpResponse:
    """A transcribed stem's notes as a MIDI file on the song's tempo map (``?grid=16``: on sixteenths)."""
    track, stems = _downloadable_stems(request, track_uuid, job_uuid)
    stem = next((s for s in stems if s.name == name), None)
    if stem is None:
        raise Http404("This separation has no such stem")
    if not stem.notes:
        raise Http404("This stem has not been transcribed (or holds no notes)")
    grid = request.GET.get("grid", "")
    if grid not in GRIDS:
        return HttpResponse("grid: 8 or 16 (eighths or sixteenths), or none.", status=400)
    return downloads.midi_response(track, stem, GRIDS[grid])


@require_POST
def job_cancel(request: HttpRequest, track_uuid: str, job_uuid: str) -> HttpResponse:
    track = access.get_editable(access.actor(request), track_uuid)
    job = get_object_or_404(Job.objects.select_related("track"), track=track, uuid=job_uuid)
    actions.cancel(job)
    return _job_panel(request, track, jobs.KINDS[job.kind].panel)


def said(form: Any, fields: bool = False, sep: str = " ") -> str:
    """A form's errors in words for a 400: every message, or with ``fields`` the first of each field, named."""
    if fields:
        return sep.join(f"{k}: {v[0]}" for k, v in form.errors.items())
    return sep.join(e for errors in form.errors.values() for e in errors)


def _job_panel(request: HttpRequest, track: Track, panel: str, status: int = 200, **extra: Any) -> HttpResponse:
    if request.htmx:
        return HttpResponse(panels.render(track, [panel], request, **extra), status=status)
    if status >= 400:
        return HttpResponse(" ".join(str(v) for v in extra.values()), status=status)
    return redirect(track_url(track))


@long_running
@open_to_links
@require_GET
def stem_file(request: HttpRequest, track_uuid: str, stem_uuid: str) -> HttpResponse:
    as_attachment = request.GET.get("download") == "1"
    who = access.actor(request)
    track = (access.get_downloadable if as_attachment else access.get_viewable)(who, track_uuid)
    stem = get_object_or_404(track.stems.select_related("track"), uuid=stem_uuid)
    # The mixer asks for the listening copy (``listen=1``, where there is one); a listen-only link gets it
    # whatever it asks.
    listen = request.GET.get("listen") == "1" and bool(stem.preview) and not as_attachment
    return downloads.stem_response(stem, range_header=request.headers.get("Range", ""),
                                   as_attachment=as_attachment,
                                   preview=listen or not access.can_download(who, track))


def _downloadable_stems(request: HttpRequest, track_uuid: str, job_uuid: str) -> tuple[Track, list[Stem]]:
    """One separation's stems, through the track's download check; 404 when there are none to see."""
    track = access.get_downloadable(access.actor(request), track_uuid)
    stems = list(track.stems.select_related("track").filter(job__uuid=job_uuid))
    if not stems:
        raise Http404("No such separation")
    return track, stems


@long_running
@open_to_links
@require_GET
def stems_zip(request: HttpRequest, track_uuid: str, job_uuid: str) -> HttpResponse:
    track, stems = _downloadable_stems(request, track_uuid, job_uuid)
    return downloads.stems_zip_response(track, stems)


@long_running
@open_to_links
@require_GET
def stems_mix(request: HttpRequest, track_uuid: str, job_uuid: str) -> HttpResponse:
    track, stems = _downloadable_stems(request, track_uuid, job_uuid)
    form = MixForm(request.GET, [s.name for s in stems])
    if not form.is_valid():
        return HttpResponse(said(form, fields=True), status=400)
    return downloads.mix_response(track, stems, form.gains(), form.pans())


@long_running
@open_to_links
@require_GET
def stems_loop(request: HttpRequest, track_uuid: str, job_uuid: str, every_section: bool = False) -> HttpResponse:
    """Bars of a stem or of the mix as a WAV loop; with ``every_section``, each section as one, in a zip."""
    track, stems = _downloadable_stems(request, track_uuid, job_uuid)
    form = LoopForm(request.GET, [s.name for s in stems], with_bars=not every_section)
    if not form.is_valid():
        return HttpResponse(said(form, fields=True), status=400)
    analysis = track.latest_analysis()
    try:
        if analysis is None:
            raise ValueError("This song has no bar grid: analyse it first.")
        if every_section:
            sections = loops.sections(analysis.shown, track.duration)
            if not sections:
                raise ValueError("This song has no sections a bar or longer to cut loops from.")
            return downloads.loops_zip_response(track, stems, analysis, form.what(), sections, form.gains(),
                                                form.pans())
        loop = loops.bars(analysis.shown, track.duration, form.cleaned_data["first"], form.cleaned_data["last"])
    except ValueError as error:
        return HttpResponse(str(error), status=400)
    return downloads.loop_response(track, stems, analysis, form.what(), loop, form.gains(), form.pans())


@require_POST
def track_delete(request: HttpRequest, track_uuid: str) -> HttpResponse:
    track = access.get_manageable(access.actor(request), track_uuid)
    title = track.title
    actions.delete(track)
    messages.success(request, f"Deleted “{title}”.")
    return redirect("library")


# -- sharing ---------------------------------------------------------------------------------------------------


def sharing_context(track: Track, share_form: ShareForm | None = None, link_form: LinkForm | None = None,
                    new_link: ShareLink | None = None) -> dict[str, Any]:
    return {
        "track": track,
        "shares": track.shares.select_related("user__profile"),
        "links": track.links.filter(revoked__isnull=True),
        "share_form": share_form or ShareForm(owner=track.owner),
        "link_form": link_form or LinkForm(),
        "new_link": new_link,
    }


def _sharing_panel(request: HttpRequest, track: Track, status: int = 200, **kwargs: Any) -> HttpResponse:
    if request.htmx:
        return HttpResponse(panels.render(track, ["sharing-panel"], request, **sharing_context(track, **kwargs)),
                            status=status)
    return redirect(track_url(track))


@require_POST
def share_add(request: HttpRequest, track_uuid: str) -> HttpResponse:
    track = access.get_manageable(access.actor(request), track_uuid)
    form = ShareForm(request.POST, owner=track.owner)
    if not form.is_valid():
        return _sharing_panel(request, track, status=400, share_form=form)
    actions.share(request, track, form.cleaned_data["role"], user=form.cleaned_data["user"],
                  email=form.cleaned_data["email"])
    return _sharing_panel(request, track)


@require_POST
def share_update(request: HttpRequest, track_uuid: str, share_id: int) -> HttpResponse:
    track = access.get_manageable(access.actor(request), track_uuid)
    share = get_object_or_404(Share, track=track, pk=share_id)
    new_role = request.POST.get("role")
    if new_role not in Share.Role.values:
        return _sharing_panel(request, track, status=400)
    actions.change_role(track, request.user, share, new_role)
    return _sharing_panel(request, track)


@require_POST
def share_revoke(request: HttpRequest, track_uuid: str, share_id: int) -> HttpResponse:
    track = access.get_manageable(access.actor(request), track_uuid)
    share = get_object_or_404(Share, track=track, pk=share_id)
    actions.unshare(track, request.user, share)
    return _sharing_panel(request, track)


@require_POST
def link_add(request: HttpRequest, track_uuid: str) -> HttpResponse:
    track = access.get_manageable(access.actor(request), track_uuid)
    form = LinkForm(request.POST)
    if not form.is_valid():
        return _sharing_panel(request, track, status=400, link_form=form)
    link = actions.add_link(track, request.user, **form.link_fields())
    return _sharing_panel(request, track, new_link=link)


@require_POST
def link_revoke(request: HttpRequest, track_uuid: str, link_id: int) -> HttpResponse:
    track = access.get_manageable(access.actor(request), track_uuid)
    link = get_object_or_404(ShareLink, track=track, pk=link_id)
    actions.revoke_link(track, request.user, link)
    return _sharing_panel(request, track)


@login_not_required
@require_GET
def link_open(request: HttpRequest, token: str) -> HttpResponse:
    """A share link: remembered in the visitor's session, which then opens the track's page and files."""
    link = ShareLink.usable().filter(token=token).select_related("track").first()
    if link is None:
        raise Http404("No such link")
    access.remember_link(request.session, link)
    return redirect(track_url(link.track))


# -- comments and renaming -------------------------------------------------------------------------------------


def _comments_panel(request: HttpRequest, track: Track, status: int = 200, **extra: Any) -> HttpResponse:
    if request.htmx:
        return HttpResponse(panels.render(track, ["comments-panel"], request, **extra), status=status)
    if status >= 400:
        return HttpResponse(said(extra["comment_form"], fields=True, sep="; "), status=status)
    return redirect(track_url(track))


@require_POST
def comment_add(request: HttpRequest, track_uuid: str) -> HttpResponse:
    who = access.actor(request)
    track = access.get_viewable(who, track_uuid)
    if not access.can_comment(who, track):
        raise PermissionDenied("Only people the track is shared with may comment.")
    form = CommentForm(request.POST, duration=track.duration)
    if not form.is_valid():
        return _comments_panel(request, track, status=400, comment_form=form)
    actions.comment(track, request.user, form.cleaned_data["at"], form.cleaned_data["text"])
    return _comments_panel(request, track)


def _viewable_comment(request: HttpRequest, track_uuid: str, comment_uuid: str) -> tuple[access.Actor, Comment]:
    who = access.actor(request)
    track = access.get_viewable(who, track_uuid)
    return who, get_object_or_404(Comment.objects.select_related("track"), track=track, uuid=comment_uuid)


@require_POST
def comment_edit(request: HttpRequest, track_uuid: str, comment_uuid: str) -> HttpResponse:
    who, comment = _viewable_comment(request, track_uuid, comment_uuid)
    track = comment.track
    if not access.can_edit_comment(who, comment):
        raise PermissionDenied("Only its author may edit a comment.")
    form = CommentForm({"at": comment.at, "text": request.POST.get("text", "")}, duration=track.duration)
    if not form.is_valid():
        return _comments_panel(request, track, status=400, comment_form=form)
    actions.edit_comment(comment, form.cleaned_data["text"])
    return _comments_panel(request, track)


@require_POST
def comment_delete(request: HttpRequest, track_uuid: str, comment_uuid: str) -> HttpResponse:
    who, comment = _viewable_comment(request, track_uuid, comment_uuid)
    track = comment.track
    if not access.can_delete_comment(who, comment):
        raise PermissionDenied("Only its author, the owner and editors may delete a comment.")
    actions.delete_comment(comment)
    return _comments_panel(request, track)


def _cues_panel(request: HttpRequest, track: Track, status: int = 200, **extra: Any) -> HttpResponse:
    if request.htmx:
        return HttpResponse(panels.render(track, ["cues-panel"], request, **extra), status=status)
    if status >= 400:
        return HttpResponse(extra.get("cue_error", ""), status=status)
    return redirect(track_url(track))


@require_POST
def cue_save(request: HttpRequest, track_uuid: str, cue_uuid: str | None = None) -> HttpResponse:
    """Add a cue, or change one (its time, name and colour)."""
    track = access.get_editable(access.actor(request), track_uuid)
    cue = get_object_or_404(Cue.objects.select_related("track"), track=track, uuid=cue_uuid) if cue_uuid else None
    form = CueForm(request.POST, duration=track.duration)
    if not form.is_valid():
        error = said(form, fields=True)
        return _cues_panel(request, track, status=400, cue_error=error)
    if cue is None:
        actions.add_cue(track, request.user, **form.cleaned_data)
    else:
        actions.change_cue(cue, request.user, **form.cleaned_data)
    return _cues_panel(request, track)


@require_POST
def cue_delete(request: HttpRequest, track_uuid: str, cue_uuid: str) -> HttpResponse:
    track = access.get_editable(access.actor(request), track_uuid)
    actions.delete_cue(get_object_or_404(Cue.objects.select_related("track"), track=track, uuid=cue_uuid),
                       request.user)
    return _cues_panel(request, track)


@require_POST
def track_rename(request: HttpRequest, track_uuid: str) -> HttpResponse:
    track = access.get_editable(access.actor(request), track_uuid)
    form = RenameForm(request.POST)
    if not form.is_valid():
        return HttpResponse(form.errors["title"][0], status=400)
    actions.rename(track, request.user, form.cleaned_data["title"])
    return redirect(track_url(track))
