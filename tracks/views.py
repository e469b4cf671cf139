"""Small views: access -> form -> model method or enqueue -> partial or redirect."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import LoginView
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from . import access, events, jobs, media
from .forms import LoginForm, MixForm, SeparationForm, SignupForm, UploadForm
from .models import Job, Stem, Track


@login_not_required
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("/")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("/")
    return render(request, "registration/signup.html", {"form": form})


class SoundForgeLoginView(LoginView):
    form_class = LoginForm
    redirect_authenticated_user = True


@require_GET
def library(request: HttpRequest) -> HttpResponse:
    tracks = access.viewable_tracks(request.user)
    return render(request, "tracks/library.html", {
        "rows": [events.track_context(t) for t in tracks],
        "max_upload_mb": settings.MAX_UPLOAD_MB,
        "max_minutes": settings.MAX_DURATION_S // 60,
    })


@require_POST
def upload(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST, request.FILES)
    is_xhr = request.headers.get("X-Requested-With") == "XMLHttpRequest"
    error = None
    track = None
    if getattr(request, "upload_too_large", False):
        error = media.too_large_message()
    elif not form.is_valid():
        error = form.errors["file"][0]
    else:
        try:
            track = media.store_upload(form.cleaned_data["file"], request.user, then=jobs.enqueue_analysis)
        except media.AudioRejected as exc:
            error = str(exc)
    if track is not None:
        events.library_changed(request.user.pk)
    if is_xhr:
        if error:
            return render(request, "tracks/upload_error.html", {"error": error}, status=400)
        return render(request, "tracks/library.html#track-row", events.track_context(track), status=201)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"Uploaded “{track.title}”; analysis is queued.")
    return redirect("/")


@require_GET
def track_detail(request: HttpRequest, track_uuid: str) -> HttpResponse:
    track = access.get_viewable(request.user, track_uuid)
    context = events.track_context(track, detail=True)
    context["can_edit"] = access.can_edit(request.user, track)
    if context["can_edit"]:
        context["separation_form"] = separation_form(None)
    return render(request, "tracks/track_detail.html", context)


def separation_form(data: object) -> SeparationForm:
    return SeparationForm(data, models=jobs.separation_models(), default_model=settings.DEFAULT_SEPARATION_MODEL)


@require_GET
def track_audio(request: HttpRequest, track_uuid: str) -> HttpResponse:
    track = access.get_viewable(request.user, track_uuid)
    return media.audio_response(
        track, range_header=request.headers.get("Range", ""), as_attachment=request.GET.get("download") == "1"
    )


@require_POST
def track_analyse(request: HttpRequest, track_uuid: str) -> HttpResponse:
    track = access.get_editable(request.user, track_uuid)
    job = track.latest_job("analysis")
    if job is None or not job.is_active:
        with transaction.atomic():
            jobs.enqueue_analysis(track)
            transaction.on_commit(lambda: events.track_changed(track))
    if request.htmx:
        return render(request, "tracks/track_detail.html#job-panel", events.track_context(track))
    return redirect(f"/tracks/{track.uuid}/")


@require_POST
def track_separate(request: HttpRequest, track_uuid: str) -> HttpResponse:
    track = access.get_editable(request.user, track_uuid)
    form = separation_form(request.POST)
    if not form.is_valid():
        return HttpResponse(" ".join(e for errors in form.errors.values() for e in errors), status=400)
    job = track.latest_job(Job.Kind.SEPARATION)
    if job is None or not job.is_active:
        with transaction.atomic():
            jobs.enqueue_separation(track, form.cleaned_data["model"], form.cleaned_data["format"])
            transaction.on_commit(lambda: events.jobs_changed(track))
    return _job_panel(request, track, "separation-job-panel")


@require_POST
def job_cancel(request: HttpRequest, track_uuid: str, job_uuid: str) -> HttpResponse:
    track = access.get_editable(request.user, track_uuid)
    job = get_object_or_404(Job, track=track, uuid=job_uuid)
    if jobs.cancel(job):
        events.jobs_changed(track)
    panel = "job-panel" if job.kind == Job.Kind.ANALYSIS else "separation-job-panel"
    return _job_panel(request, track, panel)


def _job_panel(request: HttpRequest, track: Track, panel: str) -> HttpResponse:
    if request.htmx:
        return render(request, f"tracks/track_detail.html#{panel}", events.track_context(track))
    return redirect(f"/tracks/{track.uuid}/")


@require_GET
def stem_file(request: HttpRequest, track_uuid: str, stem_uuid: str) -> HttpResponse:
    track = access.get_viewable(request.user, track_uuid)
    stem = get_object_or_404(track.stems.select_related("track"), uuid=stem_uuid)
    return media.stem_response(stem, range_header=request.headers.get("Range", ""),
                               as_attachment=request.GET.get("download") == "1")


def _viewable_stems(request: HttpRequest, track_uuid: str, job_uuid: str) -> tuple[Track, list[Stem]]:
    """One separation's stems, through the track's access check; 404 when there are none to see."""
    track = access.get_viewable(request.user, track_uuid)
    stems = list(track.stems.select_related("track").filter(job__uuid=job_uuid))
    if not stems:
        raise Http404("No such separation")
    return track, stems


@require_GET
def stems_zip(request: HttpRequest, track_uuid: str, job_uuid: str) -> HttpResponse:
    track, stems = _viewable_stems(request, track_uuid, job_uuid)
    return media.stems_zip_response(track, stems)


@require_GET
def stems_mix(request: HttpRequest, track_uuid: str, job_uuid: str) -> HttpResponse:
    track, stems = _viewable_stems(request, track_uuid, job_uuid)
    form = MixForm(request.GET, [s.name for s in stems])
    if not form.is_valid():
        return HttpResponse(" ".join(f"{k}: {v[0]}" for k, v in form.errors.items()), status=400)
    return media.mix_response(track, stems, form.gains(), form.pans())


@require_POST
def track_delete(request: HttpRequest, track_uuid: str) -> HttpResponse:
    track = access.get_editable(request.user, track_uuid)
    title = track.title
    with transaction.atomic():
        # Running jobs see their row vanish and stop their port (jobs.run_and_record's should_cancel).
        track.delete()
        transaction.on_commit(lambda: media.delete_files(track))
        transaction.on_commit(lambda: events.library_changed(request.user.pk))
    messages.success(request, f"Deleted “{title}”.")
    return redirect("/")
