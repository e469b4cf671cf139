from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.views import LogoutView
from django.urls import path

from . import views

urlpatterns = [
    path("healthz/", views.healthz, name="healthz"),
    path("signup/", views.signup, name="signup"),
    path("signup/sent/", views.signup_sent, name="signup-sent"),
    path("verify/<str:uidb64>/<str:token>/", views.verify, name="verify"),
    path("password-reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("login/", views.SoundForgeLoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("account/", views.account, name="account"),
    path("", views.library, name="library"),
    path("rekordbox.xml", views.library_rekordbox, name="library-rekordbox"),
    path("tracks/upload/", views.upload, name="upload"),
    path("tracks/<uuid:track_uuid>/", views.track_detail, name="track"),
    path("tracks/<uuid:track_uuid>/controls/", views.track_controls, name="track-controls"),
    path("tracks/<uuid:track_uuid>/audio/", views.track_audio, name="track-audio"),
    path("tracks/<uuid:track_uuid>/tagged/", views.track_tagged, name="track-tagged"),
    path("tracks/<uuid:track_uuid>/analyse/", views.track_analyse, name="track-analyse"),
    path("tracks/<uuid:track_uuid>/tempo/", views.track_tempo, name="track-tempo"),
    path("tracks/<uuid:track_uuid>/analysis.<str:fmt>", views.analysis_export, name="analysis-export"),
    path("tracks/<uuid:track_uuid>/chart/", views.track_chart, name="track-chart"),
    path("tracks/<uuid:track_uuid>/delete/", views.track_delete, name="track-delete"),
    path("tracks/<uuid:track_uuid>/separate/", views.track_separate, name="track-separate"),
    path("tracks/<uuid:track_uuid>/jobs/<uuid:job_uuid>/cancel/", views.job_cancel, name="job-cancel"),
    path("tracks/<uuid:track_uuid>/stems/<uuid:stem_uuid>/", views.stem_file, name="stem-file"),
    path("tracks/<uuid:track_uuid>/separations/<uuid:job_uuid>/zip/", views.stems_zip, name="stems-zip"),
    path("tracks/<uuid:track_uuid>/separations/<uuid:job_uuid>/mix/", views.stems_mix, name="stems-mix"),
    path("tracks/<uuid:track_uuid>/separations/<uuid:job_uuid>/loop/", views.stems_loop, name="stems-loop"),
    path("tracks/<uuid:track_uuid>/separations/<uuid:job_uuid>/render/", views.stems_render, name="stems-render"),
    path("tracks/<uuid:track_uuid>/renders/<uuid:job_uuid>/", views.render_file, name="render-file"),
    path("tracks/<uuid:track_uuid>/separations/<uuid:job_uuid>/loops/", views.stems_loop, {"every_section": True},
         name="stems-loops"),
    path("tracks/<uuid:track_uuid>/shares/", views.share_add, name="share-add"),
    path("tracks/<uuid:track_uuid>/shares/<int:share_id>/", views.share_update, name="share-update"),
    path("tracks/<uuid:track_uuid>/shares/<int:share_id>/revoke/", views.share_revoke, name="share-revoke"),
    path("tracks/<uuid:track_uuid>/links/", views.link_add, name="link-add"),
    path("tracks/<uuid:track_uuid>/links/<int:link_id>/revoke/", views.link_revoke, name="link-revoke"),
    path("tracks/<uuid:track_uuid>/rename/", views.track_rename, name="track-rename"),
    path("tracks/<uuid:track_uuid>/comments/", views.comment_add, name="comment-add"),
    path("tracks/<uuid:track_uuid>/comments/<uuid:comment_uuid>/", views.comment_edit, name="comment-edit"),
    path("tracks/<uuid:track_uuid>/comments/<uuid:comment_uuid>/delete/", views.comment_delete,
         name="comment-delete"),
    path("s/<str:token>/", views.link_open, name="link-open"),
]
